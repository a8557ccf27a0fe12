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

from loadlens.engine.compiled import CompiledScenario, CompiledStep
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule, UserRamp
from loadlens.engine.variables import SharedData, UserState

_CONTROL_PERIOD = 0.05  # seconds between closed-model user-count adjustments
# An arrival started more than 2 ms after its time is late. The event loop's timers tick in
# whole milliseconds, so up to about one tick of lateness is the timer's, not a starved
# generator's; the lateness itself is still measured and reported (p99 per second).
_LATE_NS = 2_000_000
_IDLE_ITERATION_PAUSE = 0.001  # an iteration that sent nothing yields this long, not a spin
_MIN_SLEEP = 0.0006  # the shortest sleep uvloop rounds up to a 1 ms timer, not to 0


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


def _renew_user(context: WorkerContext, user: UserState, user_id: int) -> None:
    """Make a finished user into a new one, as `_new_user` would, without allocating it."""
    user.user_id = user_id
    user.iteration = 0
    user.variables = dict(context.initial_variables)
    if user.missing:
        user.missing.clear()
    if user.rows:
        user.rows.clear()


def _begin_iteration(context: WorkerContext, user: UserState) -> tuple[CompiledStep, ...]:
    """Start a user's next iteration: count it, draw feeder rows, pick a flow by weight."""
    user.iteration += 1
    if context.shared.feeders:
        user.draw_rows()
    flows = context.compiled.flows
    if len(flows) == 1:
        return flows[0]
    return context.compiled.pick_flow(context.shared.rng.random())


async def _iterate(context: WorkerContext, user: UserState, intended_ns: int | None) -> bool:
    """One iteration of a weighted-random flow; whether it sent anything."""
    flow = _begin_iteration(context, user)
    runner = context.runner
    sent_before = runner.sent
    await runner.run(flow, user, intended_ns)
    return runner.sent != sent_before


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

    runner = context.runner

    async def user_loop(user: UserState, quit_flag: list[bool]) -> None:
        while not quit_flag[0] and not control.stopping:
            sent_before = runner.sent
            await runner.run(_begin_iteration(context, user), user)
            if runner.sent == sent_before:
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
    """Start iterations at the schedule's arrival times from the monotonic time `start_ns`.

    Iterations run on a pool of user tasks: an idle one is handed the next arrival through its
    own Future, and a new one is started only when none is idle. Each arrival still gets a
    fresh user (a new id, the initial variables), as if a new user arrived; only the task and
    the UserState object are reused.
    """
    tasks: set[asyncio.Task[None]] = set()
    idle: list[tuple[asyncio.Future[int | None], UserState]] = []
    busy = 0
    dispatching = True
    loop = asyncio.get_running_loop()
    total = schedule.expected_arrivals()
    arrival_time = schedule.arrival_time
    next_user = context.worker
    monotonic_ns = time.monotonic_ns

    async def user_task(intended_ns: int | None, user: UserState) -> None:
        nonlocal busy
        while intended_ns is not None:
            try:
                await _iterate(context, user, intended_ns)
            finally:
                busy -= 1
            if not dispatching:
                return
            handover: asyncio.Future[int | None] = loop.create_future()
            idle.append((handover, user))
            intended_ns = await handover

    k = 0

    def dispatch() -> None:
        """Start every arrival already due; runs on the dispatcher's turns and after responses."""
        nonlocal k, busy, next_user
        if control.stopping:
            return
        now = monotonic_ns()
        due = start_ns + int(arrival_time(k) * 1e9)
        while due <= now and k < total:
            k += 1
            if busy >= max_in_flight:
                stats.dropped += 1
            else:
                lateness = now - due
                stats.lateness_ns.append(lateness)
                if lateness > _LATE_NS:
                    stats.late += 1
                busy += 1
                if idle:
                    handover, user = idle.pop()
                    _renew_user(context, user, next_user)
                    handover.set_result(due)
                else:
                    user = _new_user(context, next_user)
                    task = loop.create_task(user_task(due, user))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                next_user += context.workers
            due = start_ns + int(arrival_time(k) * 1e9)
        stats.active = busy

    # Responses come far more often than the loop's 1 ms timers at high rates, so the runner
    # dispatches after each one too: sub-ms dispatch without spinning the loop.
    context.runner.after_response = dispatch
    try:
        while k < total and not control.stopping:
            dispatch()
            if k < total:
                gap = start_ns + int(arrival_time(k) * 1e9) - monotonic_ns()
                await asyncio.sleep(_dispatch_pause(gap))
    finally:
        context.runner.after_response = None
    dispatching = False
    for handover, _ in idle:
        handover.set_result(None)
    idle.clear()
    end_ns = start_ns + int(schedule.length * 1e9)
    while not control.stopping and time.monotonic_ns() < end_ns:
        stats.active = busy
        await asyncio.sleep(min((end_ns - time.monotonic_ns()) / 1e9, _CONTROL_PERIOD))
    await _finish(tasks, grace)
    stats.active = 0


def _dispatch_pause(gap_ns: int) -> float:
    """How long the dispatcher sleeps when the next arrival is `gap_ns` away.

    The loop's timers are whole milliseconds (uvloop rounds a delay to the nearest ms, so a
    sub-ms sleep would be a busy turn). The dispatcher never spins: it sleeps at least a tick,
    and arrivals due in between go out after the next response or at the tick.
    """
    return max(gap_ns / 1e9, _MIN_SLEEP)
