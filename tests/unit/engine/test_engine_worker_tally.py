"""The coordinator's tally of each worker, and the record of one it loses."""

from __future__ import annotations

import signal

from loadlens.engine.stages import share_of
from loadlens.engine.worker import StageOrder
from loadlens.engine.worker_tally import WorkerTally, exit_cause
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.model.plan import ClosedLoad, OpenLoad, Stage


def _orders(stage: Stage, workers: int) -> dict[int, StageOrder]:
    return {
        w: StageOrder(index=1, stage=stage, share=share_of(stage, None, w, workers), start_ns=0)
        for w in range(workers)
    }


def _frame(worker: int, ok: int, failed: int, in_flight: int) -> Frame:
    ops = {
        "a": OpFrame("", {"ok:200": ok}),
        "b": OpFrame("", {"status:500": failed, "cancelled": 1}),
    }
    return Frame(worker, 1, 0, 0.0, ops, Health(in_flight=in_flight))


def test_a_lost_worker_s_record_counts_only_its_own_frames_of_the_stage() -> None:
    tally = WorkerTally()
    tally.begin(_orders(Stage("load", ClosedLoad(users=5), duration=10.0), workers=2))
    tally.count(_frame(0, ok=10, failed=2, in_flight=3))
    tally.count(_frame(1, ok=99, failed=0, in_flight=9))
    tally.count(_frame(0, ok=5, failed=0, in_flight=4))
    tally.count(_frame(-1, ok=50, failed=0, in_flight=0))  # setup's, in the coordinator
    lost = tally.lost(0, 4242, "killed by SIGKILL")
    assert (lost.worker, lost.pid, lost.stage, lost.stage_name) == (0, 4242, 1, "load")
    assert (lost.reported, lost.unreported) == (10 + 2 + 1 + 5 + 1, 4)
    assert (lost.share, lost.share_fraction) == ("3 of 5 users", 0.6)
    assert lost.cause == "killed by SIGKILL"


def test_an_open_stage_share_is_a_rate_and_a_new_stage_starts_from_zero() -> None:
    tally = WorkerTally()
    tally.begin(_orders(Stage("warm", ClosedLoad(users=2), duration=1.0), workers=4))
    tally.count(_frame(3, ok=7, failed=0, in_flight=1))
    tally.begin(_orders(Stage("peak", OpenLoad(rate=100.0), duration=1.0), workers=4))
    lost = tally.lost(3, None, "exited with code 1")
    assert (lost.reported, lost.unreported) == (0, 0)
    assert (lost.share, lost.share_fraction) == ("25 of 100 arrivals/s", 0.25)


def test_a_worker_s_end_in_words() -> None:
    assert exit_cause(-signal.SIGKILL) == "killed by SIGKILL"
    assert exit_cause(1) == "exited with code 1"
    assert exit_cause(None) == "its pipe closed, the process still running"
