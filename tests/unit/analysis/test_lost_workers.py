"""A lost worker in the verdict and in result.json."""

from __future__ import annotations

import dataclasses
import json

import pytest

from loadlens.analysis.verdict import decide
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.lost_worker import LostWorker
from loadlens.metrics.result import RunResult
from loadlens.model.verdict import GateResult, GateStatus, VerdictKind
from tests.unit.analysis.gate_samples import frame
from tests.unit.metrics.metrics_samples import RUN, STAGES

LOST = LostWorker(
    worker=1,
    pid=4242,
    stage=0,
    stage_name="warm",
    lost_after_s=3.25,
    lost_at=1_700_000_003.25,
    cause="killed by SIGKILL",
    reported=1234,
    unreported=3,
    share="2 of 4 users",
    share_fraction=0.5,
)


def _result(*lost: LostWorker) -> RunResult:
    accumulator = RunAccumulator(["get"], STAGES)
    for second in range(10):
        accumulator.add(frame(second, {"get": [5.0] * 10}))
    result = accumulator.result(run=RUN, complete=False)
    result.lost_workers = list(lost)
    return result


def _gate(status: GateStatus) -> GateResult:
    return GateResult(
        gate="p95 < 20ms",
        stage="warm",
        status=status,
        measured=34.2,
        samples=1204,
        target="< 20ms",
        required=100,
        measured_text="34.2 ms",
    )


def test_a_lost_worker_makes_passing_gates_inconclusive_and_names_it() -> None:
    verdict = decide(_result(LOST), [_gate(GateStatus.PASSED)], stages_not_run=["load"])
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert verdict.reasons == (
        "worker 1 (pid 4242) was lost 3.2 s into stage `warm` (killed by SIGKILL) after "
        "reporting 1,234 requests; at least 3 it had sent were never reported; from then on "
        "the delivered load fell 50% below the plan (its share: 2 of 4 users), so the stage "
        "was stopped and the rest of the plan not run",
    )


def test_a_failed_gate_at_a_lost_worker_s_load_is_named_but_not_no_go() -> None:
    verdict = decide(_result(LOST), [_gate(GateStatus.FAILED)])
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert len(verdict.reasons) == 2
    assert verdict.reasons[1].startswith("stage `warm`: p95 < 20ms failed")


def test_lost_workers_and_the_stopping_signal_round_trip() -> None:
    result = _result(LOST, dataclasses.replace(LOST, worker=0, pid=None))
    result.interrupted, result.interrupted_by = True, "SIGTERM"
    data = json.loads(json.dumps(result.to_dict()))
    assert data["lost_workers"][1]["pid"] is None
    assert RunResult.from_dict(data) == result


def test_an_older_result_has_no_lost_worker_and_no_signal() -> None:
    data = _result(LOST).to_dict()
    del data["lost_workers"], data["interrupted_by"]
    read = RunResult.from_dict(json.loads(json.dumps(data)))
    assert (read.lost_workers, read.interrupted_by) == ([], None)


def test_a_worker_lost_with_nothing_in_flight_says_so() -> None:
    quiet = dataclasses.replace(LOST, unreported=0, reported=0)
    (reason,) = decide(_result(quiet), []).reasons
    assert "after reporting 0 requests; none was in flight at its last frame; " in reason


def test_a_cluster_run_that_went_on_is_judged_when_the_lost_load_is_within_tolerance() -> None:
    # Half the load for the last 0.5 s of a 10 s stage: 2.5 % of its load, under 5 %.
    late = dataclasses.replace(LOST, went_on=True, stage_length_s=10.0, lost_after_s=9.5)
    assert late.shortfall == pytest.approx(0.025)
    result = _result(late)
    result.complete = True  # the run went on to its end
    verdict = decide(result, [_gate(GateStatus.PASSED)])
    assert verdict.kind is VerdictKind.GO


def test_a_cluster_run_that_lost_more_than_tolerated_is_inconclusive() -> None:
    early = dataclasses.replace(LOST, went_on=True, stage_length_s=10.0, lost_after_s=2.0)
    assert early.shortfall == pytest.approx(0.4)
    (reason,) = decide(_result(early), [_gate(GateStatus.PASSED)]).reasons
    assert reason == (
        "worker 1 (pid 4242) was lost 2.0 s into stage `warm` (killed by SIGKILL) after "
        "reporting 1,234 requests; at least 3 it had sent were never reported; the stage went "
        "on without its share (2 of 4 users), so 40% of the stage's planned load was not sent "
        "(over the 5% tolerated)"
    )
    data = json.loads(json.dumps(_result(early).to_dict()))
    assert data["lost_workers"][0]["shortfall"] == pytest.approx(0.4)
    assert RunResult.from_dict(data).lost_workers == [early]
