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
  dropped and counted. When the generator itself is behind (its loop ran late), an arrival
  that finds no idle connection waits for one rather than opening its own (see `run_open`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from loadlens.engine.compiled import CompiledRequest, CompiledScenario, CompiledStep
from loadlens.engine.drivers import Crowd, PickFlow, PlainUser
from loadlens.engine.precise_timer import PreciseTimer
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule, UserRamp, starting_connections
from loadlens.engine.variables import SharedData, UserState, seed_cookies
from loadlens.http import Origin
from loadlens.metrics.histogram import FOLD_EVERY, BulkHistogram

_CONTROL_PERIOD: Final = 0.05  # seconds between closed-model user-count adjustments
# An arrival started more than 2 ms after its time is late: the dispatcher may sleep up to
# 1.5 ms between arrivals by design (see `_timer_floor_ns`), so lateness under about that is the
# dispatcher's choice, not a starved generator; the lateness itself is still measured and
# reported (its distribution and each second's p99).
_LATE_NS: Final = 2_000_000
_IDLE_ITERATION_PAUSE: Final = 0.001  # an iteration that sent nothing yields this long, not a spin
# The dispatcher's timer sleeps at least this many arrivals' worth (see `_timer_floor_ns`).
_ARRIVALS_PER_WAKE: Final = 8
_PRECISE_FLOOR_NS: Final = 250_000  # half the 0.5 ms lateness p99 the open model aims at
# At most 1.5 ms: with the wake-up's own delay it stays under _LATE_NS, so no arrival is
# counted late (which the verdict reads as a generator falling behind) for the sleep alone.
_PRECISE_CEILING_NS: Final = 1_500_000
_NEVER_NS: Final = 1 << 62  # the "next arrival" once there is none
# New connections late arrivals may open per timer tick (~1 ms) once the loop runs on time.
_CATCH_UP: Final = 8
_User = TypeVar("_User")


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
    lateness: BulkHistogram = field(default_factory=BulkHistogram)  # µs, open model

    def take(self) -> tuple[int, int, BulkHistogram]:
        """Late, dropped and the lateness (folded) since the last take."""
        self.lateness.fold()
        taken = (self.late, self.dropped, self.lateness)
        self.late, self.dropped, self.lateness = 0, 0, BulkHistogram()
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
        user_id=user_id,
        shared=context.shared,
        variables=dict(context.initial_variables),
        cookies=seed_cookies(context.initial_variables),
    )


def _renew_user(context: WorkerContext, user: UserState, user_id: int) -> None:
    """Make a finished user into a new one, as `_new_user` would, without allocating it."""
    user.user_id = user_id
    user.iteration = 0
    if user.variables or context.initial_variables:
        user.variables = dict(context.initial_variables)
    if user.cookies is not None or context.initial_variables:
        user.cookies = seed_cookies(context.initial_variables)
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
    """Run users for `length` seconds from the monotonic time `start`.

    When every flow is plain, users are callback-driven (`loadlens.engine.drivers`); else
    each is a task looping over iterations.
    """
    if context.compiled.all_plain:
        await _run_closed_plain(context, ramp, first_user, start, length, grace, control, stats)
        return
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

    def add(user_id: int) -> tuple[asyncio.Task[None], list[bool]]:
        quit_flag = [False]
        task = loop.create_task(user_loop(_new_user(context, user_id), quit_flag))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task, quit_flag

    def leave(user: tuple[asyncio.Task[None], list[bool]]) -> None:
        user[1][0] = True  # finishes its iteration, then leaves

    await _hold_users(context, ramp, first_user, start, length, control, stats, users, add, leave)
    for user in users:
        leave(user)
    await _finish(tasks, grace)
    stats.active = 0


async def _run_closed_plain(
    context: WorkerContext,
    ramp: UserRamp,
    first_user: int,
    start: float,
    length: float,
    grace: float,
    control: StageControl,
    stats: ExecutorStats,
) -> None:
    """`run_closed` with callback-driven users: each iteration starts when the last ends."""
    loop = asyncio.get_running_loop()
    runner = context.runner
    crowd = Crowd()
    users: list[PlainUser] = []

    def ended(user: PlainUser) -> None:
        if user.quit or control.stopping:
            crowd.stopped()
        elif runner.sent == user.sent_before:  # nothing sent (variables missing): no busy loop
            loop.call_later(_IDLE_ITERATION_PAUSE, user.iterate)
        else:
            user.iterate()

    def add(user_id: int) -> PlainUser:
        user = PlainUser(_new_user(context, user_id), runner, _plain_picker(context), ended, crowd)
        crowd.running += 1
        user.iterate()
        return user

    def leave(user: PlainUser) -> None:
        user.quit = True

    await _hold_users(
        context, ramp, first_user, start, length, control, stats, users, add, leave, crowd
    )
    for user in users:
        leave(user)
    await crowd.finish(grace)
    stats.active = 0


async def _hold_users(
    context: WorkerContext,
    ramp: UserRamp,
    first_user: int,
    start: float,
    length: float,
    control: StageControl,
    stats: ExecutorStats,
    users: list[_User],
    add: Callable[[int], _User],
    leave: Callable[[_User], None],
    crowd: Crowd | None = None,
) -> None:
    """Keep the number of users at the ramp's level until the stage's length has passed.

    Every control period users are added (`add`, with the next user id of this worker) or the
    newest ones told to `leave`; an unexpected error of a callback-driven user is raised here.
    """
    next_id = 0
    while not control.stopping:
        if crowd is not None:
            crowd.raise_failure()
        elapsed = time.monotonic() - start
        if elapsed >= length:
            break
        target = ramp.users_at(elapsed)
        while len(users) < target:
            users.append(add(first_user + next_id * context.workers))
            next_id += 1
        while len(users) > target:
            leave(users.pop())
        stats.active = len(users)
        await asyncio.sleep(min(_CONTROL_PERIOD, max(length - elapsed, 0.0)))


def _plain_picker(context: WorkerContext) -> PickFlow:
    """The next iteration's requests of a user, when every flow is plain."""
    plain = context.compiled.plain

    def pick(user: UserState) -> tuple[CompiledRequest, ...]:
        return plain[id(_begin_iteration(context, user))]

    return pick


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

    When every flow is plain, arrivals go to callback-driven users instead
    (`loadlens.engine.drivers`): an idle one is simply told to iterate, with no task at all.

    Arrivals are started by `dispatch`, which runs after every response (so at high rates they
    leave within one response's processing of their time) and on a timer callback between
    them. It keeps the next arrival's time, so the call after a response that finds nothing
    due costs one clock read and one comparison. A task whose iteration ends takes the next
    due arrival itself, if there is one: at high rates most arrivals go out that way, without
    a handover and a second wake-up of a task.
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
    runner = context.runner
    # Every flow plain: arrivals go to callback-driven users, kept in a pool when idle.
    all_plain = context.compiled.all_plain
    crowd = Crowd()
    idle_users: list[PlainUser] = []
    pick = _plain_picker(context)

    def ended(plain_user: PlainUser) -> None:
        nonlocal busy
        busy -= 1
        crowd.stopped()
        if dispatching:
            idle_users.append(plain_user)

    async def user_task(intended_ns: int, user: UserState) -> None:
        nonlocal busy
        while True:
            try:
                await runner.run(_begin_iteration(context, user), user, intended_ns)
            finally:
                busy -= 1
            if not dispatching:
                return
            claimed = dispatch(user)
            if claimed is None:
                handover: asyncio.Future[int | None] = loop.create_future()
                idle.append((handover, user))
                claimed = await handover
                if claimed is None:
                    return
            intended_ns = claimed

    def due_ns(k: int) -> int:
        return start_ns + int(arrival_time(k) * 1e9) if k < total else _NEVER_NS

    k = 0
    next_due = due_ns(0)
    client = runner.client
    hold_origin = _first_origin(context.compiled)
    # Below this many connections a new one is cheap and a stall's backlog is small: late
    # arrivals open what they need (4 × what an open stage starts with, at least 16).
    hold_floor = 4 * starting_connections(schedule.rate, schedule.start_rate)
    behind = False  # the last timer callback ran more than _LATE_NS late: the loop is busy
    catch_up = 0  # new connections late arrivals may still open before the next tick
    waited = 0  # arrivals due but not started at the last tick
    opening = 0  # connections late arrivals began to open since the last tick

    def waiting_at(now: int) -> int:
        """Arrivals due by `now` that have not started."""
        return schedule.arrivals_by((now - start_ns) / 1e9) - k

    def hold(now: int) -> None:
        """Keep the due arrivals waiting, and drop the oldest of them beyond `max_in_flight`
        (counting what waits as in flight): the bound holds whether they wait or run."""
        nonlocal k, next_due
        excess = busy + waiting_at(now) - max_in_flight
        if excess > 0:
            k += excess
            stats.dropped += excess
            next_due = due_ns(k)

    def dispatch(claimant: UserState | None = None) -> int | None:
        """Start every arrival already due; the first goes to `claimant` if given (a user task
        that just finished, and carries on without waiting), whose intended time is returned.
        """
        nonlocal k, busy, next_user, next_due, catch_up, opening
        now = monotonic_ns()
        if now < next_due or control.stopping:
            return None
        claimed = None
        lateness_us = stats.lateness.values  # (swapped out once a second)
        while next_due <= now:
            if busy >= max_in_flight:
                stats.dropped += 1
            else:
                lateness = now - next_due
                if lateness > _LATE_NS and hold_origin is not None:
                    # Late. While there are few connections, one more is cheap and the backlog
                    # small. Past `hold_floor`, with every connection busy, a generator that is
                    # behind would only fall further behind opening one per waiting arrival:
                    # each costs a handshake, and each one in use more work per request. So the
                    # arrival waits for one to come back (the next response dispatches it).
                    # Once the loop runs on time again and the connections there are do not
                    # shrink the backlog (a slow server), a few new ones per tick let it catch up.
                    open_now, idle_now = client.connection_counts(hold_origin)
                    if not idle_now:
                        if open_now + opening >= hold_floor:
                            if behind or catch_up == 0:
                                hold(now)
                                break
                            catch_up -= 1
                        opening += 1  # its connection opens in a task that has not run yet
                lateness_us.append(lateness // 1000)
                if len(lateness_us) >= FOLD_EVERY:
                    stats.lateness.fold()
                if lateness > _LATE_NS:
                    stats.late += 1
                busy += 1
                if all_plain:
                    if idle_users:
                        plain_user = idle_users.pop()
                        _renew_user(context, plain_user.user, next_user)
                    else:
                        user = _new_user(context, next_user)
                        plain_user = PlainUser(user, runner, pick, ended, crowd)
                    crowd.running += 1
                    plain_user.iterate(next_due)
                elif claimant is not None:
                    _renew_user(context, claimant, next_user)
                    claimed, claimant = next_due, None
                elif idle:
                    handover, user = idle.pop()
                    _renew_user(context, user, next_user)
                    handover.set_result(next_due)
                else:
                    user = _new_user(context, next_user)
                    task = loop.create_task(user_task(next_due, user))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                next_user += context.workers
            k += 1
            next_due = due_ns(k)
        stats.active = busy
        return claimed

    def dispatch_all() -> None:
        dispatch()

    # The runner dispatches after each response: between the steps of a flow and, for
    # callback-driven users, at the end of an iteration too.
    runner.after_response = dispatch_all

    finished = loop.create_future()

    end_ns = start_ns + int(schedule.length * 1e9)
    tick_due = monotonic_ns()

    def tick() -> None:
        """The timer's turn: note whether the loop ran it late, dispatch, then sleep until the
        next arrival (checking `stopping` and the users' failures at least every control
        period). Arrivals still waiting at the stage's end are dropped."""
        nonlocal behind, tick_due, k, catch_up, waited, opening
        now = monotonic_ns()
        behind = now - tick_due > _LATE_NS
        waiting = waiting_at(now)
        catch_up = _CATCH_UP if 0 < waited <= waiting else 0  # a backlog not shrinking
        opening = 0
        waited = waiting
        dispatch()
        if k < total and now >= end_ns and not control.stopping:
            stats.dropped += total - k
            k = total
        if k >= total or control.stopping or crowd.failures:
            if not finished.done():
                finished.set_result(None)
            return
        tick_due = min(max(next_due, now + min_pause_ns), now + control_period_ns)
        timer.at(tick_due)

    timer = PreciseTimer(loop, tick)
    min_pause_ns = _timer_floor_ns(schedule)
    control_period_ns = int(_CONTROL_PERIOD * 1e9)
    try:
        tick()
        await finished
    finally:
        runner.after_response = None
        timer.close()
    dispatching = False
    for handover, _ in idle:
        handover.set_result(None)
    idle.clear()
    while not control.stopping and time.monotonic_ns() < end_ns:
        crowd.raise_failure()
        stats.active = busy
        await asyncio.sleep(min((end_ns - time.monotonic_ns()) / 1e9, _CONTROL_PERIOD))
    if all_plain:
        await crowd.finish(grace)
    else:
        await _finish(tasks, grace)
    stats.active = 0


def _first_origin(compiled: CompiledScenario) -> Origin | None:
    """The origin every flow's first request goes to, or None when they differ."""
    origins = {
        step.prepared.origin
        for flow in compiled.flows
        for step in flow[:1]
        if isinstance(step, CompiledRequest)
    }
    return origins.pop() if len(origins) == 1 else None


def _timer_floor_ns(schedule: ArrivalSchedule) -> int:
    """The shortest sleep of the open-model dispatcher's (sub-millisecond) timer, in ns.

    Between responses, arrivals go out when the timer wakes the loop, so this bounds the
    lateness that sleeping adds (and lateness is part of the first request's latency, measured
    from the intended time). But each wake-up costs about as much CPU as a request: a context
    switch and, in a VM, timer exits (~25 µs measured here), and arrivals sent together have
    their responses read together, in fewer wake-ups. So the timer wakes at most once per
    `_ARRIVALS_PER_WAKE` arrivals at the stage's peak rate, within [0.25 ms, 1.5 ms]: 0.25 ms
    from 32,000/s up (lateness p99 ~0.25–0.4 ms at 50,000/s), 1.5 ms at 5,333/s and below (at
    5,000/s the generator at ~12 % of a core instead of ~15 % at 1 ms; docs/benchmarks.md).
    """
    peak = max(schedule.start_rate, schedule.rate)
    if peak <= 0:
        return _PRECISE_CEILING_NS
    floor = int(_ARRIVALS_PER_WAKE / peak * 1e9)
    return min(max(floor, _PRECISE_FLOOR_NS), _PRECISE_CEILING_NS)
