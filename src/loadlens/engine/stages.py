"""From a plan to what each worker runs: stage list with setup/teardown, and each worker's share."""

from __future__ import annotations

import math
from typing import Any

from loadlens.engine.worker import WorkerShare
from loadlens.metrics.result import StageInfo
from loadlens.model.plan import ClosedLoad, OpenLoad, Stage

SETUP = "setup"
TEARDOWN = "teardown"


def describe(stage: Stage, previous: Stage | None) -> dict[str, Any]:
    """The load of a stage as recorded in the result (start levels resolved)."""
    load = stage.load
    described: dict[str, Any]
    if isinstance(load, ClosedLoad):
        described = {
            "model": "closed",
            "users": load.users,
            "start_users": start_users(stage, previous),
        }
        if load.per_user is not None:
            described["per_user"] = load.per_user
    else:
        described = {
            "model": "open",
            "rate": load.rate,
            "start_rate": start_rate(stage, previous),
            "max_in_flight": load.max_in_flight,
        }
    if load.iterations is not None:
        described["iterations"] = load.iterations
    return described


def start_users(stage: Stage, previous: Stage | None) -> int:
    """Users at the beginning of a closed stage's ramp."""
    assert isinstance(stage.load, ClosedLoad)
    if stage.ramp <= 0:
        return stage.load.users
    if stage.load.start_users is not None:
        return stage.load.start_users
    if previous is not None and isinstance(previous.load, ClosedLoad):
        return previous.load.users
    return 0


def start_rate(stage: Stage, previous: Stage | None) -> float:
    """Arrival rate at the beginning of an open stage's ramp."""
    assert isinstance(stage.load, OpenLoad)
    if stage.ramp <= 0:
        return stage.load.rate
    if stage.load.start_rate is not None:
        return stage.load.start_rate
    if previous is not None and isinstance(previous.load, OpenLoad):
        return previous.load.rate
    return 0.0


def stage_infos(plan: tuple[Stage, ...], *, setup: bool, teardown: bool) -> list[StageInfo]:
    """Every stage the result will list, setup and teardown included, in order."""
    infos: list[StageInfo] = []
    if setup:
        infos.append(StageInfo(SETUP, 0, {"model": SETUP}, 0.0, 0.0))
    previous: Stage | None = None
    for stage in plan:
        infos.append(
            StageInfo(stage.name, len(infos), describe(stage, previous), stage.duration, stage.ramp)
        )
        previous = stage
    if teardown:
        infos.append(StageInfo(TEARDOWN, len(infos), {"model": TEARDOWN}, 0.0, 0.0))
    return infos


def _split(total: int, worker: int, workers: int) -> int:
    return total // workers + (1 if worker < total % workers else 0)


def _split_by(total: int, worker: int, weights: list[int]) -> int:
    """Worker `worker`'s part of `total` in proportion to `weights` (exact: the parts sum to
    `total`, and a worker of weight 0 gets 0)."""
    whole = sum(weights)
    before = sum(weights[:worker])
    return total * (before + weights[worker]) // whole - total * before // whole


def share_of(stage: Stage, previous: Stage | None, worker: int, workers: int) -> WorkerShare:
    """One worker's part of a stage: users split as evenly as integers allow, rates divided.

    Counted iterations are split exactly: a closed stage's shared `iterations` in proportion to
    each worker's users (a worker without users gets none), an open stage's arrivals as the
    arrivals interleave (arrival j of the stage is worker j mod workers's, see `phase`).
    """
    load = stage.load
    if isinstance(load, ClosedLoad):
        users = [_split(load.users, w, workers) for w in range(workers)]
        iterations = 0 if load.iterations is None else _split_by(load.iterations, worker, users)
        return WorkerShare(
            users_start=_split(start_users(stage, previous), worker, workers),
            users=users[worker],
            iterations=iterations,
            per_user=load.per_user or 0,
            counted=stage.counted,
        )
    return WorkerShare(
        rate_start=start_rate(stage, previous) / workers,
        rate=load.rate / workers,
        max_in_flight=max(1, math.ceil(load.max_in_flight / workers)),
        iterations=0 if load.iterations is None else _split(load.iterations, worker, workers),
        counted=stage.counted,
    )
