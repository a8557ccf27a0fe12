"""What the coordinator knows of each worker during a stage, to account for one it loses.

How it works. `begin` takes the stage's orders (each worker's share); every frame a worker
sends adds its requests to its tally and leaves its in-flight count. When a worker is lost
(its pipe reaches end-of-file, it sends a `WorkerFailure`, or an order cannot be sent), `lost`
makes the `LostWorker` record from the tally, the worker's share and how its process ended.
Only the worker's own counters are used: what it sent after its last frame only the service
knows, so `unreported` is a lower bound.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping

from loadlens.engine.worker import StageOrder
from loadlens.metrics.frame import Frame
from loadlens.metrics.lost_worker import LostWorker
from loadlens.model.plan import ClosedLoad


class WorkerTally:
    """Per worker, the requests of the current stage it has reported and had in flight."""

    def __init__(self) -> None:
        self._orders: Mapping[int, StageOrder] = {}
        self._reported: dict[int, int] = {}
        self._in_flight: dict[int, int] = {}

    def begin(self, orders: Mapping[int, StageOrder]) -> None:
        """A stage starts: one order per worker still there, by worker number."""
        self._orders = orders
        self._reported, self._in_flight = {}, {}

    def count(self, frame: Frame) -> None:
        """Add a worker's frame (frames of setup and teardown, worker -1, are not counted)."""
        if frame.worker < 0:
            return
        requests = sum(sum(op.outcomes.values()) for op in frame.ops.values())
        self._reported[frame.worker] = self._reported.get(frame.worker, 0) + requests
        self._in_flight[frame.worker] = frame.health.in_flight

    def lost(
        self, worker: int, pid: int | None, cause: str, *, went_on: bool = False
    ) -> LostWorker:
        """The record of `worker`, lost now in the current stage; `went_on`: the run goes on
        with the other workers (a cluster's), rather than stop."""
        order = self._orders[worker]
        stage, share = order.stage, order.share
        if isinstance(stage.load, ClosedLoad):
            planned = f"{share.users} of {stage.load.users} users"
            fraction = share.users / max(stage.load.users, 1)
        else:
            planned = f"{share.rate:g} of {stage.load.rate:g} arrivals/s"
            fraction = share.rate / stage.load.rate if stage.load.rate else 0.0
        return LostWorker(
            worker=worker,
            pid=pid,
            stage=order.index,
            stage_name=stage.name,
            lost_after_s=min(max((time.monotonic_ns() - order.start_ns) / 1e9, 0.0), stage.length),
            stage_length_s=stage.length,
            lost_at=time.time(),
            cause=cause,
            reported=self._reported.get(worker, 0),
            unreported=self._in_flight.get(worker, 0),
            share=planned,
            share_fraction=fraction,
            went_on=went_on,
        )


def exit_cause(code: int | None) -> str:
    """How a worker process ended, from its exit code (negative: the signal that killed it)."""
    if code is None:
        return "its pipe closed, the process still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
