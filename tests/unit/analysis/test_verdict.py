"""The verdict's precedence, the live judge, and the result schema that carries them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from loadlens.analysis.judge import GateJudge
from loadlens.analysis.verdict import decide
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import LAG_LEVELS_MS
from loadlens.metrics.result import SCHEMA_VERSION, RunResult
from loadlens.model.threshold import parse_threshold
from loadlens.model.verdict import GateResult, GateStatus, Verdict, VerdictKind
from tests.unit.analysis.gate_samples import frame
from tests.unit.metrics.metrics_samples import RUN, STAGES


def _result(*, cpu: float = 30.0, lag: float = 1.0, late: int = 0) -> RunResult:
    accumulator = RunAccumulator(["get"], STAGES)
    for second in range(10):
        f = frame(second, {"get": [5.0] * 10})
        f.health.cpu_percent, f.health.loop_lag_ms, f.health.late = cpu, lag, late
        accumulator.add(f)
    return accumulator.result(run=RUN, complete=True)


def _gate(status: GateStatus, stage: str = "warm") -> GateResult:
    return GateResult(
        gate="p95{op:read} < 20ms",
        stage=stage,
        status=status,
        measured=34.2,
        samples=1204,
        target="< 20ms",
        required=100,
        measured_text="34.2 ms",
    )


def test_no_gates_is_go() -> None:
    verdict = decide(_result(), [])
    assert verdict.kind is VerdictKind.GO and verdict.reasons == ("no gates were defined",)


def test_passed_gates_are_go() -> None:
    verdict = decide(_result(), [_gate(GateStatus.PASSED)])
    assert verdict.kind is VerdictKind.GO and verdict.reasons == ("all 1 gates passed",)


def test_a_failed_gate_is_no_go_and_says_why() -> None:
    verdict = decide(_result(), [_gate(GateStatus.PASSED), _gate(GateStatus.FAILED, "load")])
    assert verdict.kind is VerdictKind.NO_GO and verdict.failed_stage == "load"
    assert verdict.reasons == (
        "stage `load`: p95{op:read} < 20ms failed: measured 34.2 ms (1,204 samples)",
    )


def test_a_failed_gate_in_a_stopped_plan_is_still_no_go() -> None:
    result = dataclasses.replace(_result(), complete=False)
    verdict = decide(result, [_gate(GateStatus.FAILED)], stages_not_run=["peak"])
    assert verdict.kind is VerdictKind.NO_GO and verdict.stages_not_run == ("peak",)


def test_a_failed_gate_is_no_go_however_busy_the_generator() -> None:
    # the gate was judged against the error bound: FAILED means failed even with it subtracted
    verdict = decide(_result(cpu=99.0, lag=90.0), [_gate(GateStatus.FAILED)])
    assert verdict.kind is VerdictKind.NO_GO
    assert verdict.failed_stage == "warm"


def test_a_saturated_generator_leaves_passing_gates_inconclusive() -> None:
    verdict = decide(_result(cpu=99.0), [_gate(GateStatus.PASSED)])
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert verdict.reasons == (
        "the planned load was not delivered: stage `warm`: the generator was saturated: "
        "worker CPU ≥ 90 % in 10 of 10 seconds (max 99 %)",
    )


def test_loop_lag_and_late_iterations_alone_decide_nothing() -> None:
    assert decide(_result(lag=80.0), [_gate(GateStatus.PASSED)]).kind is VerdictKind.GO
    assert decide(_result(late=2), []).kind is VerdictKind.GO
    accumulator = RunAccumulator(["get"], STAGES)
    burst = frame(0, {"get": [5.0] * 50})
    burst.health.late = 10  # a short burst with a few late starts: no special case
    accumulator.add(burst)
    assert decide(accumulator.result(run=RUN, complete=True), []).kind is VerdictKind.GO


def test_a_gate_whose_bound_straddles_its_target_is_inconclusive_and_named() -> None:
    uncertain = dataclasses.replace(
        _gate(GateStatus.UNCERTAIN),
        measured=18.0,
        measured_text="18.0 ms",
        bound_ms=12.5,
        bound_cause="event-loop lag 12.5 ms in second 3 (worker 0 at 4 % CPU, descheduled "
        "40 times: the host was busy)",
    )
    verdict = decide(_result(), [_gate(GateStatus.PASSED), uncertain])
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert verdict.reasons == (
        "stage `warm`: p95{op:read} < 20ms is uncertain: measured 18.0 ms ± 12.5 ms "
        "(1,204 samples); the generator's error bound straddles the target: event-loop lag "
        "12.5 ms in second 3 (worker 0 at 4 % CPU, descheduled 40 times: the host was busy)",
    )


def test_interrupted_incomplete_and_insufficient_are_inconclusive() -> None:
    interrupted = dataclasses.replace(_result(), interrupted=True, complete=False)
    assert decide(interrupted, []).reasons == ("the run was interrupted before the plan finished",)
    incomplete = dataclasses.replace(_result(), complete=False)
    verdict = decide(incomplete, [], stages_not_run=["peak"])
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert verdict.reasons == ("the run is incomplete: stages not run: `peak`",)
    thin = decide(_result(), [_gate(GateStatus.INSUFFICIENT)])
    assert thin.kind is VerdictKind.INCONCLUSIVE
    assert thin.reasons == (
        "stage `warm`: p95{op:read} < 20ms could not be judged: 1,204 samples, 100 needed",
    )


def test_result_round_trips_gates_and_verdict() -> None:
    result = _result()
    result.gates = [_gate(GateStatus.FAILED)]
    result.verdict = decide(result, result.gates)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION == 2
    back = RunResult.from_dict(data)
    assert back.gates == result.gates and back.verdict == result.verdict
    assert Verdict.from_dict(result.verdict.to_dict()) == result.verdict


def test_a_version_1_result_reads_without_gates() -> None:
    data = _result().to_dict()
    data["schema_version"] = 1
    del data["gates"], data["verdict"]
    back = RunResult.from_dict(data)
    assert back.gates == [] and back.verdict is None


def test_judge_aborts_after_the_grace_and_judges_the_stage() -> None:
    abort = parse_threshold("p95 < 100ms abort after 3s")
    windowed = parse_threshold("p95 < 100ms over 2s")
    whole = parse_threshold("error_rate < 1%")
    judge = GateJudge({0: (abort, windowed, whole)}, {0: "warm"})
    accumulator = RunAccumulator(["get"], STAGES)
    reasons = []
    for second in range(8):
        f = frame(second, {"get": [500.0 if second >= 5 else 5.0] * 100})
        judge.observe(f, accumulator.add(f))  # as the coordinator hands them on
        reasons.append(judge.breach(0, elapsed_s=second + 1.0))
    # A gate without a window is judged on everything received so far, once a new second
    # settles: the slow second 5 (600 samples in all) breaches it at once.
    assert reasons[:5] == [None] * 5
    assert (
        reasons[5]
        == "stage `warm`: p95 < 100ms abort after 3s failed: measured 500.2 ms (600 samples)"
    )
    assert not judge.stage_passed(0, accumulator)
    by_gate = {r.gate: r for r in judge.results}
    assert by_gate["p95 < 100ms over 2s"].status is GateStatus.FAILED
    assert by_gate["p95 < 100ms over 2s"].at_second == 5
    assert by_gate["error_rate < 1%"].status is GateStatus.PASSED
    result = accumulator.result(run=RUN, complete=False)
    judge.conclude(result, ["peak"])
    assert result.verdict is not None and result.verdict.kind is VerdictKind.NO_GO
    assert len(result.gates) == 3


def _lagged_judge(
    gate: str,
    latency_ms: float,
    lag_ms: float,
    *,
    lagged: tuple[int, ...] = (0, 1, 2, 3),
    users: int = 10,
) -> GateResult:
    """A stage of 4 seconds × 100 requests by `users` users; one stall of `lag_ms` in each of
    the `lagged` seconds (the others at 0.3 ms of timer slack)."""
    judge = GateJudge({0: (parse_threshold(gate),)}, {0: "warm"})
    accumulator = RunAccumulator(["get"], STAGES)
    for second in range(4):
        f = frame(second, {"get": [latency_ms] * 100})
        stalled = second in lagged
        f.health.loop_lag_ms = lag_ms if stalled else 0.3
        f.health.loop_lag_p50_ms = 0.3
        stall = lag_ms if stalled else 0.0  # one probe ran into it
        f.health.lag_over = [int(stall > level) for level in LAG_LEVELS_MS]
        f.health.lag_over_ms = [stall if stall > level else 0.0 for level in LAG_LEVELS_MS]
        f.health.cpu_percent, f.health.users, f.health.involuntary_switches = 3.0, users, 50
        judge.observe(f, accumulator.add(f))
    judge.stage_passed(0, accumulator)
    (result,) = judge.results
    return result


def test_latency_gates_are_judged_against_the_lag_bound() -> None:
    failing = _lagged_judge("p95 < 100ms", 726.0, 91.0)
    assert failing.status is GateStatus.FAILED
    assert "event-loop lag 91.0 ms" in failing.bound_cause
    assert "the host was busy" in failing.bound_cause
    passing = _lagged_judge("p95 < 100ms", 30.0, 40.0)
    assert passing.status is GateStatus.PASSED
    straddling = _lagged_judge("p95 < 100ms", 90.0, 40.0)
    assert straddling.status is GateStatus.UNCERTAIN
    assert straddling.bound_cause.startswith("event-loop lag 40.0 ms in second")
    assert "worker 0 at 3 % CPU, descheduled 50 times: the host was busy" in (
        straddling.bound_cause
    )
    assert straddling.bound_ms == pytest.approx(40.0, abs=0.5)


def test_one_stall_moves_only_the_requests_in_flight() -> None:
    # one 60 ms stall can delay at most the 10 requests in flight (twice: in its second and,
    # recorded late, the next), 20 of 400: a p95 of 5 ms stays far from 50 ms
    result = _lagged_judge("p95 < 50ms", 5.0, 60.0, lagged=(1,))
    assert result.status is GateStatus.PASSED and result.bound_ms < 3.0  # base + 2 ms level
    # with 100 users in flight, half the requests may have waited: the bound straddles 50 ms
    crowded = _lagged_judge("p95 < 50ms", 5.0, 60.0, lagged=(1,), users=100)
    assert crowded.status is GateStatus.UNCERTAIN


def test_error_rate_gates_ignore_the_lag_bound() -> None:
    judge = GateJudge({0: (parse_threshold("error_rate < 5%"),)}, {0: "warm"})
    accumulator = RunAccumulator(["get"], STAGES)
    for second in range(4):
        f = frame(second, {"get": [5.0] * 100}, errors=4)
        f.health.loop_lag_ms = 500.0
        judge.observe(f, accumulator.add(f))
    judge.stage_passed(0, accumulator)
    assert judge.results[0].status is GateStatus.PASSED and judge.results[0].bound_ms == 0


def _abort_reasons(slow_per_second: int) -> list[str | None]:
    judge = GateJudge({0: (parse_threshold("p95 < 100ms abort after 1s"),)}, {0: "warm"})
    accumulator = RunAccumulator(["get"], STAGES)
    reasons = []
    for second in range(3):
        slow = slow_per_second
        f = frame(second, {"get": [5.0] * (10 - slow) + [300.0] * slow})
        judge.observe(f, accumulator.add(f))
        reasons.append(judge.breach(0, elapsed_s=second + 1.0))
    return reasons


def test_a_percentile_abort_gate_stops_once_the_confidence_bound_says_so() -> None:
    # 6 of 20 requests over 100 ms: the Wilson lower bound (16 %) exceeds the 5 % tail
    # allowed, long before the 100 samples a p95 needs to be judged
    reasons = _abort_reasons(3)
    assert reasons[0] is None  # nothing settled yet
    assert reasons[1] == (
        "stage `warm`: p95 < 100ms abort after 1s failed: measured 300.0 ms (20 samples; fewer "
        "than the 100 usually needed, but clear with 95 % confidence)"
    )
    # 1 in 10 over it: 3 of 30 bound the share only above 3.9 %, so the stage goes on
    assert _abort_reasons(1) == [None, None, None]


def test_a_plan_without_gates_is_judged_on_the_default_gates() -> None:
    judge = GateJudge({0: ()}, {0: "warm"})
    accumulator = RunAccumulator(["get"], STAGES)
    for second in range(3):
        f = frame(second, {"get": [5.0] * 10}, errors=10)  # every request a 500
        judge.observe(f, accumulator.add(f))
    assert not judge.stage_passed(0, accumulator)
    result = accumulator.result(run=RUN, complete=True)
    judge.conclude(result, [])
    assert result.verdict is not None and result.verdict.kind is VerdictKind.NO_GO
    (gate,) = result.gates
    assert gate.default and gate.gate == "error_rate < 5%"
    assert "(a default gate) failed" in result.verdict.reasons[0]


def test_a_violated_invariant_is_no_go_even_for_a_saturated_generator() -> None:
    from loadlens.model.integrity import InvariantResult

    result = _result(cpu=99.0)
    result.invariants = [
        InvariantResult("no overbooking", "sql", passed=False, violations=3, when="end")
    ]
    verdict = decide(result, [_gate(GateStatus.PASSED)])
    assert verdict.kind is VerdictKind.NO_GO
    assert verdict.reasons[0] == "invariant `no overbooking` violated (end): 3 violating rows"


def test_an_invariant_that_could_not_run_is_inconclusive_and_a_held_one_is_named() -> None:
    from loadlens.model.integrity import InvariantResult

    broken = _result()
    broken.invariants = [
        InvariantResult("rows", "sql", passed=False, violations=0, error="connection refused")
    ]
    verdict = decide(broken, [_gate(GateStatus.PASSED)])
    assert verdict.kind is VerdictKind.INCONCLUSIVE
    assert "invariant `rows` could not be checked: connection refused" in verdict.reasons

    held = _result()
    held.invariants = [InvariantResult("rows", "sql", passed=True, violations=0)]
    verdict = decide(held, [_gate(GateStatus.PASSED)])
    assert verdict.kind is VerdictKind.GO
    assert "all 1 invariant checks held" in verdict.reasons


def test_observation_and_invariants_round_trip_through_json() -> None:
    from loadlens.model.integrity import InvariantResult
    from loadlens.model.observation import MetricSeries, ObservationResult, SourceHealth

    result = _result()
    result.observation = ObservationResult(
        1.0,
        (MetricSeries("rss", ((0.0, 10.0), (1.0, 12.0))),),
        (SourceHealth("json http://127.0.0.1:1/health", 2, 0),),
    )
    result.invariants = [InvariantResult("rows", "sql", False, 1, ({"id": 4},), None, "end")]
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.observation == result.observation
    assert again.invariants == result.invariants
