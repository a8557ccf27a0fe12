"""Closed and open executors: how one worker turns a stage into iterations.

How it works. Both executors run inside the worker's event loop until the stage's length has
passed or `control.stopping` is set, then stop starting iterations and give those in flight
`grace` seconds to finish; any still running are cancelled (their request counts as `cancelled`).

- Closed: a control loop (every 50 ms) keeps the number of user tasks at the ramp's level; each
  user runs iterations back to back. Latency is measured from the actual send.
- Open: arrival k is due at a precomputed time; each pass of the dispatch loop starts every
  iteration already due (so timer coarseness delays but never drops arrivals), then sleeps
  until the next one. Latency of an iteration's first request is measured from the intended
  time; lateness (actual − intended) is recorded, and arrivals beyond `max_in_flight` are
  dropped and counted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from loadlens.engine.compiled import CompiledScenario
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule, UserRamp
from loadlens.engine.variables import SharedData, UserState

_CONTROL_PERIOD = 0.05  # seconds between closed-model user-count adjustments
_LATE_NS = 1_000_000  # an arrival started more than 1 ms after its time is late
_IDLE_ITERATION_PAUSE = 0.001  # an iteration that sent nothing yields this long, not a spin


@dataclass(slots=True)
class StageControl:
    """Shared between the worker's control channel and the executor."""

    stopping: bool = False


@dataclass(slots=True)
class ExecutorStats:
    """What the worker's health frame reports about the executor, reset each second."""

    active: int = 0  # users (closed) or iterations in flight (open)
    late: int = 0
    dropped: int = 0
    lateness_ns: list[int] = field(default_factory=list)

    def take(self) -> tuple[int, int, list[int]]:
        """Late, dropped and lateness samples since the last take."""
        taken = (self.late, self.dropped, self.lateness_ns)
        self.late, self.dropped, self.lateness_ns = 0, 0, []
        return taken


@dataclass(slots=True)
class WorkerContext:
    """What every executor of one worker uses."""

    compiled: CompiledScenario
    runner: StepRunner
    shared: SharedData
    initial_variables: dict[str, object]
    worker: int
    workers: int


def _new_user(context: WorkerContext, user_id: int) -> UserState:
    return UserState(
        user_id=user_id, shared=context.shared, variables=dict(context.initial_variables)
    )


async def _iterate(context: WorkerContext, user: UserState, intended_ns: int | None) -> bool:
    """One iteration of a weighted-random flow; whether it sent anything."""
    user.iteration += 1
    user.draw_rows()
    flow = context.compiled.pick_flow(context.shared.rng.random())
    sent_before = context.runner.sent
    await context.runner.run(flow, user, intended_ns)
    return context.runner.sent != sent_before


async def _finish(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """Give running tasks `grace` seconds, then cancel the rest and wait for them."""
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def run_closed(
    context: WorkerContext,
    ramp: UserRamp,
    first_user: int,
    start: float,
    length: float,
    grace: float,
    control: StageControl,
    stats: ExecutorStats,
) -> None:
    """Run users for `length` seconds from the monotonic time `start`."""
    users: list[tuple[asyncio.Task[None], list[bool]]] = []  # (task, [quit flag])
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    async def user_loop(user: UserState, quit_flag: list[bool]) -> None:
        while not quit_flag[0] and not control.stopping:
            if not await _iterate(context, user, None):
                await asyncio.sleep(_IDLE_ITERATION_PAUSE)

    next_id = 0
    while not control.stopping:
        elapsed = time.monotonic() - start
        if elapsed >= length:
            break
        target = ramp.users_at(elapsed)
        while len(users) < target:
            user_id = first_user + next_id * context.workers
            next_id += 1
            quit_flag = [False]
            task = loop.create_task(user_loop(_new_user(context, user_id), quit_flag))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            users.append((task, quit_flag))
        while len(users) > target:
            users.pop()[1][0] = True  # finishes its iteration, then leaves
        stats.active = len(tasks)
        await asyncio.sleep(min(_CONTROL_PERIOD, max(length - elapsed, 0.0)))
    for _, quit_flag in users:
        quit_flag[0] = True
    await _finish(tasks, grace)
    stats.active = 0


async def run_open(
    context: WorkerContext,
    schedule: ArrivalSchedule,
    max_in_flight: int,
    start_ns: int,
    grace: float,
    control: StageControl,
    stats: ExecutorStats,
) -> None:
    """Start iterations at the schedule's arrival times from the monotonic time `start_ns`."""
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    total = schedule.expected_arrivals()
    arrival_time = schedule.arrival_time
    next_user = context.worker

    async def iteration(user: UserState, intended_ns: int) -> None:
        await _iterate(context, user, intended_ns)

    k = 0
    while k < total and not control.stopping:
        now = time.monotonic_ns()
        due = start_ns + int(arrival_time(k) * 1e9)
        while due <= now and k < total:
            k += 1
            if len(tasks) >= max_in_flight:
                stats.dropped += 1
            else:
                lateness = now - due
                stats.lateness_ns.append(lateness)
                if lateness > _LATE_NS:
                    stats.late += 1
                user = _new_user(context, next_user)
                next_user += context.workers
                task = loop.create_task(iteration(user, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            due = start_ns + int(arrival_time(k) * 1e9)
        stats.active = len(tasks)
        if k < total:
            await asyncio.sleep(max(due - time.monotonic_ns(), 0) / 1e9)
    end_ns = start_ns + int(schedule.length * 1e9)
    while not control.stopping and time.monotonic_ns() < end_ns:
        await asyncio.sleep(min((end_ns - time.monotonic_ns()) / 1e9, _CONTROL_PERIOD))
    await _finish(tasks, grace)
    stats.active = 0
