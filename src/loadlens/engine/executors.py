"""Closed executor, and what both executors share: how one worker turns a stage into iterations.

How it works. Both executors (the open one is `loadlens.engine.open_model`) run inside the
worker's event loop until the stage's length has passed, its counted iterations are done, or
`control.stopping` is set; then they stop starting iterations and give those in flight `grace`
seconds to finish; any still running are cancelled (their request counts as `cancelled`).

Closed: a control loop (every 50 ms) keeps the number of user tasks at the ramp's level; each
user runs iterations back to back. Latency is measured from the actual send. A counted stage
(`iterations` shared by the worker's users, or `per_user`) gives each iteration out through an
`IterationBudget` before it begins; a user that finds none left stops, and the stage ends when
every user has stopped (its length is then a time limit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from loadlens.engine.compiled import CompiledRequest, CompiledScenario, CompiledStep
from loadlens.engine.drivers import Crowd, PickFlow, PlainUser
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import UserRamp
from loadlens.engine.variables import SharedData, UserState, seed_cookies
from loadlens.metrics.histogram import BulkHistogram

CONTROL_PERIOD: Final = 0.05  # seconds between closed-model user-count adjustments
IDLE_ITERATION_PAUSE: Final = 0.001  # an iteration that sent nothing yields this long, not a spin
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


class IterationBudget:
    """The iterations a closed stage's users of one worker may still begin (counted stages)."""

    __slots__ = ("counted", "per_user", "shared_left")

    def __init__(self, counted: bool, shared: int, per_user: int) -> None:
        self.counted = counted  # False: a stage run for its duration, no count
        self.per_user = per_user  # > 0: each user's own count
        self.shared_left = shared  # else: what the worker's users share

    def take(self, user: UserState) -> bool:
        """Whether `user` may begin another iteration (taking it from the budget)."""
        if not self.counted:
            return True
        if self.per_user:
            return user.iteration < self.per_user  # `begin_iteration` counts it
        if self.shared_left > 0:
            self.shared_left -= 1
            return True
        return False


UNCOUNTED: Final = IterationBudget(False, 0, 0)


def new_user(context: WorkerContext, user_id: int) -> UserState:
    return UserState(
        user_id=user_id,
        shared=context.shared,
        variables=dict(context.initial_variables),
        cookies=seed_cookies(context.initial_variables),
    )


def renew_user(context: WorkerContext, user: UserState, user_id: int) -> None:
    """Make a finished user into a new one, as `new_user` would, without allocating it."""
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


def begin_iteration(context: WorkerContext, user: UserState) -> tuple[CompiledStep, ...]:
    """Start a user's next iteration: count it, draw feeder rows, pick a flow by weight."""
    user.iteration += 1
    if context.shared.feeders:
        user.draw_rows()
    flows = context.compiled.flows
    if len(flows) == 1:
        return flows[0]
    return context.compiled.pick_flow(context.shared.rng.random())


async def finish_tasks(tasks: set[asyncio.Task[None]], grace: float) -> None:
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
    budget: IterationBudget = UNCOUNTED,
) -> None:
    """Run users for `length` seconds from the monotonic time `start` (or, in a counted stage,
    until `budget` is spent and every user has stopped, `length` being a time limit).

    When every flow is plain, users are callback-driven (`loadlens.engine.drivers`); else
    each is a task looping over iterations.
    """
    if context.compiled.all_plain:
        await _run_closed_plain(
            context, ramp, first_user, start, length, grace, control, stats, budget
        )
        return
    users: list[tuple[asyncio.Task[None], list[bool]]] = []  # (task, [quit flag])
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    runner = context.runner

    async def user_loop(user: UserState, quit_flag: list[bool]) -> None:
        while not quit_flag[0] and not control.stopping and budget.take(user):
            sent_before = runner.sent
            await runner.run(begin_iteration(context, user), user)
            if runner.sent == sent_before:
                await asyncio.sleep(IDLE_ITERATION_PAUSE)

    def add(user_id: int) -> tuple[asyncio.Task[None], list[bool]]:
        quit_flag = [False]
        task = loop.create_task(user_loop(new_user(context, user_id), quit_flag))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task, quit_flag

    def leave(user: tuple[asyncio.Task[None], list[bool]]) -> None:
        user[1][0] = True  # finishes its iteration, then leaves

    def done() -> bool:
        return budget.counted and not tasks

    await _hold_users(
        context, ramp, first_user, start, length, control, stats, users, add, leave, done
    )
    for user in users:
        leave(user)
    await finish_tasks(tasks, grace)
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
    budget: IterationBudget,
) -> None:
    """`run_closed` with callback-driven users: each iteration starts when the last ends."""
    loop = asyncio.get_running_loop()
    runner = context.runner
    crowd = Crowd()
    users: list[PlainUser] = []

    def ended(user: PlainUser) -> None:
        if user.quit or control.stopping or not budget.take(user.user):
            crowd.stopped()
        elif runner.sent == user.sent_before:  # nothing sent (variables missing): no busy loop
            loop.call_later(IDLE_ITERATION_PAUSE, user.iterate)
        else:
            user.iterate()

    def add(user_id: int) -> PlainUser:
        user = PlainUser(new_user(context, user_id), runner, plain_picker(context), ended, crowd)
        if budget.take(user.user):
            crowd.running += 1
            user.iterate()
        return user

    def leave(user: PlainUser) -> None:
        user.quit = True

    def done() -> bool:
        return budget.counted and crowd.running == 0

    await _hold_users(
        context, ramp, first_user, start, length, control, stats, users, add, leave, done, crowd
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
    done: Callable[[], bool],
    crowd: Crowd | None = None,
) -> None:
    """Keep the number of users at the ramp's level until the stage's length has passed, or
    until `done` (a counted stage whose users have all stopped).

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
        if done():
            break
        stats.active = len(users)
        await asyncio.sleep(min(CONTROL_PERIOD, max(length - elapsed, 0.0)))


def plain_picker(context: WorkerContext) -> PickFlow:
    """The next iteration's requests of a user, when every flow is plain."""
    plain = context.compiled.plain
    flows = context.compiled.flows
    if len(flows) == 1:  # nearly every scenario: its requests known now, not looked up by id()
        only = plain[id(flows[0])]

        def pick_only(user: UserState) -> tuple[CompiledRequest, ...]:
            begin_iteration(context, user)
            return only

        return pick_only

    def pick(user: UserState) -> tuple[CompiledRequest, ...]:
        return plain[id(begin_iteration(context, user))]

    return pick
