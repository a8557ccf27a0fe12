"""The open model's executor: iterations start at their scheduled arrival times, come what may.

How it works. Arrival k of a worker's share is due at `start_ns + schedule.arrival_time(k)`;
the schedule is fixed before the stage starts and no response moves it. An `OpenDispatcher`
starts every arrival already due each time it runs: after every response (the runner calls it,
so at high rates arrivals leave within one response's processing of their time) and when its
`PreciseTimer` fires, at the next arrival's instant but at least `MIN_PAUSE_NS` after the last
wake-up. Each due arrival is

- started: it gets a fresh user (a new id, the initial variables) and runs one iteration on a
  pooled user task, or, when every flow is plain, on a pooled callback-driven `PlainUser`
  (`loadlens.engine.drivers`); a task whose iteration ends takes the next due arrival itself;
- dropped, and counted: `max_in_flight` iterations are running (those waiting count), or it
  is still waiting when the stage ends;
- kept waiting: it is late, every connection is busy, the stage already has many connections,
  and opening more would not help (see States): a response will free one and dispatch it.

What latency measures. Lateness is when the dispatcher started an arrival minus when it was
due: the timer's pause and wake-up, and a generator whose loop was busy or whose process was
descheduled. That is the generator's, so it is recorded as lateness (its histogram, each
second's p99, and arrivals over `LATE_NS` counted as late, which the verdict reads as the
generator's health) and never added to latency: an arrival's first request is timed from its
send, which includes any wait for a connection inside the client (opening one, or queueing for
one in a bounded pool): the service causes that. An arrival kept waiting is late already (over
`LATE_NS`: the generator was behind when it fell due), and it waits under the generator's own
policy of not opening more connections while it cannot keep up; that wait is the generator's
too, so it is lateness as well. (Had it been timed from its due time, a generator stalled for
60 ms would show a healthy 5 ms service's p95 at 60 ms: tests/integration/engine/
test_open_model_latency.py.)

Why coordinated omission stays impossible. Coordinated omission is a generator that stops
sending while the service is slow, so that the slow period is sampled by a handful of requests.
Here (1) arrival times are fixed in advance: a slow response delays no later arrival's time;
(2) the dispatcher never waits for a response: it runs from its own timer, so during a stalled
service it stays on time, and the arrivals due during the stall are sent at their time, each on
a connection of its own if none is free (an on-time arrival is never kept waiting), their
latency from that send containing the rest of the stall; (3) every arrival is accounted for:
sent with its latency recorded, dropped and counted, or late with its lateness recorded and
counted. The only time not in a latency is the generator's own delay in sending an arrival,
which a service can cause only by costing the generator CPU (many connections to open at once,
a burst of responses to read); it is measured, reported and judged as lateness, and a run whose
generator fell behind says so rather than passing the service on its numbers.

States (`DispatchState`) say what happens to a late arrival (over `LATE_NS`) that finds every
connection busy once the stage has `hold_floor` connections; below that, or on time, an arrival
always starts (opening a connection if it must). The timer's ticks pick the state:
- PACED: the generator runs on time and the backlog is not growing: it waits for a connection;
- CATCHING_UP: on time, but the arrivals waiting did not shrink over the last period (a slow
  service that needs more connections): up to `_CATCH_UP` of them open new ones per period;
- BEHIND: the tick itself ran over `LATE_NS` late (a stall, a busy core): it waits, since each
  new connection would cost a handshake, and every request more work, when no CPU is spare;
- DRAINING: every arrival is out, or the stage is stopping or over: nothing more starts, and
  the iterations in flight get `grace` to finish.
"""

from __future__ import annotations

import asyncio
import enum
import time
from typing import Final

from loadlens.engine.compiled import CompiledRequest, CompiledScenario
from loadlens.engine.drivers import Crowd, PlainUser
from loadlens.engine.executors import (
    CONTROL_PERIOD,
    ExecutorStats,
    StageControl,
    WorkerContext,
    begin_iteration,
    finish_tasks,
    new_user,
    plain_picker,
    renew_user,
)
from loadlens.engine.precise_timer import PreciseTimer
from loadlens.engine.schedule import ArrivalSchedule, starting_connections
from loadlens.engine.variables import UserState
from loadlens.http import Origin
from loadlens.metrics.histogram import FOLD_EVERY

# An arrival started more than 2 ms after its time is late: ten times what the timer's pause and
# its wake-up add on a generator with headroom (lateness p99 under 0.2 ms), so a late arrival
# means the generator's loop was busy or descheduled, not the dispatcher's own design.
LATE_NS: Final = 2_000_000
# The timer's shortest sleep. Every wake-up costs about as much CPU as a request (a context
# switch and, in a VM, timer exits: ~25 µs measured here), so at high rates the timer does not
# wake per arrival; but on a generator with headroom the pause is most of the lateness, and the
# open model aims at a lateness p99 under 0.2 ms: 0.12 ms leaves 80 µs for the wake-up. Below
# 8,333 arrivals/s per worker the timer wakes at each arrival's instant.
MIN_PAUSE_NS: Final = 120_000
_NEVER_NS: Final = 1 << 62  # the "next arrival" once there is none
_CONTROL_PERIOD_NS: Final = int(CONTROL_PERIOD * 1e9)  # the timer's longest sleep
# New connections late arrivals may open per period while the backlog does not shrink, once
# the loop runs on time again: 8 per 1.5 ms. Per period, not per tick: the timer wakes more
# often at higher rates, and a backlog compared over a tenth of a millisecond has not had the
# time to shrink.
_CATCH_UP: Final = 8
_CATCH_UP_PERIOD_NS: Final = 1_500_000


class DispatchState(enum.Enum):
    """What the dispatcher does with a late arrival that finds every connection busy."""

    PACED = "paced"
    CATCHING_UP = "catching up"
    BEHIND = "behind"
    DRAINING = "draining"


class OpenDispatcher:
    """Starts one worker's arrivals of an open stage (see the module's docstring)."""

    def __init__(
        self,
        context: WorkerContext,
        schedule: ArrivalSchedule,
        max_in_flight: int,
        start_ns: int,
        control: StageControl,
        stats: ExecutorStats,
    ) -> None:
        self.context = context
        self.schedule = schedule
        self.max_in_flight = max_in_flight
        self.start_ns = start_ns
        self.control = control
        self.stats = stats
        self.runner = context.runner
        self.loop = asyncio.get_running_loop()
        self.state = DispatchState.PACED
        self.total = schedule.expected_arrivals()
        self.end_ns = start_ns + int(schedule.length * 1e9)
        self.k = 0  # the next arrival
        self.next_due = self._due_ns(0)  # its time, kept: most calls find nothing due
        self.busy = 0  # iterations in flight
        self.next_user = context.worker  # user ids interleave across workers
        # The stage's connections past which a late arrival may wait for one: below this many
        # a new one is cheap and a stall's backlog small (4 × what the stage starts with).
        self.hold_origin = _first_origin(context.compiled)
        self.hold_floor = 4 * starting_connections(schedule.rate, schedule.start_rate)
        # The backlog is compared, and catching up allowed, once per _CATCH_UP_PERIOD_NS.
        self.compared_at = 0
        self.waited = 0  # arrivals due but not started at the last comparison
        self.opening = 0  # connections late arrivals began to open since then
        self.catch_up = 0  # new connections late arrivals may still open until the next one
        self.tick_due = time.monotonic_ns()  # when the timer was asked to call `tick`
        # Every flow plain: arrivals go to callback-driven users, pooled when idle; else to
        # user tasks, an idle one waiting on its handover Future for its next arrival.
        self.all_plain = context.compiled.all_plain
        self.crowd = Crowd()
        self.idle_users: list[PlainUser] = []
        self.pick = plain_picker(context)
        self.tasks: set[asyncio.Task[None]] = set()
        self.idle: list[tuple[asyncio.Future[bool], UserState]] = []
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.timer = PreciseTimer(self.loop, self.tick)

    async def run(self, grace: float, *, counted: bool) -> None:
        """Dispatch until every arrival is out, then hold until the stage's end (a counted
        stage ends at once), give the iterations in flight `grace` and cancel the rest."""
        runner = self.runner
        runner.after_response = self.dispatch_due
        try:
            self.tick()
            await self.finished
        finally:
            runner.after_response = None
            self.timer.close()
            self.state = DispatchState.DRAINING
        for handover, _ in self.idle:
            handover.set_result(False)
        self.idle.clear()
        control, stats = self.control, self.stats
        while not counted and not control.stopping and time.monotonic_ns() < self.end_ns:
            self.crowd.raise_failure()
            stats.active = self.busy
            await asyncio.sleep(min((self.end_ns - time.monotonic_ns()) / 1e9, CONTROL_PERIOD))
        if self.all_plain:
            await self.crowd.finish(grace)
        else:
            await finish_tasks(self.tasks, grace)
        stats.active = 0

    def tick(self) -> None:
        """The timer's turn: pick the state, dispatch, then sleep until the next arrival
        (waking at least every control period to see `stopping` and the users' failures).
        Arrivals still waiting at the stage's end are dropped."""
        now = time.monotonic_ns()
        if now - self.tick_due > LATE_NS:
            self.state = DispatchState.BEHIND
        elif now - self.compared_at >= _CATCH_UP_PERIOD_NS:
            waiting = self._waiting_at(now)
            if 0 < self.waited <= waiting:
                self.state = DispatchState.CATCHING_UP
                self.catch_up = _CATCH_UP
            else:
                self.state = DispatchState.PACED
            self.waited = waiting
            self.compared_at = now
            self.opening = 0
        elif self.state is DispatchState.BEHIND:
            self.state = DispatchState.PACED  # on time again; the backlog is compared later
        self.dispatch()
        control = self.control
        if self.k < self.total and now >= self.end_ns and not control.stopping:
            self.stats.dropped += self.total - self.k
            self.k = self.total
        if self.k >= self.total or control.stopping or self.crowd.failures:
            self.state = DispatchState.DRAINING
            self.next_due = _NEVER_NS
            if not self.finished.done():
                self.finished.set_result(None)
            return
        pause_until = max(self.next_due, now + MIN_PAUSE_NS)
        self.tick_due = min(pause_until, now + _CONTROL_PERIOD_NS)
        self.timer.at(self.tick_due)

    def dispatch_due(self) -> None:
        """Start the arrivals due (the runner calls this after each response)."""
        self.dispatch(None)

    def dispatch(self, claimant: UserState | None = None) -> bool:
        """Start every arrival already due; the first goes to `claimant` if given (a user task
        that just finished and carries on without waiting): True when it took one."""
        now = time.monotonic_ns()
        if now < self.next_due or self.control.stopping or self.state is DispatchState.DRAINING:
            return False
        claimed = False
        stats = self.stats
        lateness_us = stats.lateness.values  # (swapped out once a second)
        while self.next_due <= now:
            lateness = now - self.next_due
            if self.busy >= self.max_in_flight:
                stats.dropped += 1
            elif lateness > LATE_NS and self._must_wait():
                self._keep_waiting(now)
                break
            else:
                lateness_us.append(lateness // 1000)
                if len(lateness_us) >= FOLD_EVERY:
                    stats.lateness.fold()
                if lateness > LATE_NS:
                    stats.late += 1
                if self._start(claimant):
                    claimed, claimant = True, None
            self.k += 1
            self.next_due = self._due_ns(self.k)
        stats.active = self.busy
        return claimed

    def _start(self, claimant: UserState | None) -> bool:
        """Start the next arrival (its latency from its send); True when `claimant` takes it."""
        context = self.context
        user_id = self.next_user
        self.next_user += context.workers
        self.busy += 1
        if self.all_plain:
            if self.idle_users:
                plain_user = self.idle_users.pop()
                renew_user(context, plain_user.user, user_id)
            else:
                user = new_user(context, user_id)
                plain_user = PlainUser(user, self.runner, self.pick, self._plain_ended, self.crowd)
            self.crowd.running += 1
            plain_user.iterate()
            return False
        if claimant is not None:
            renew_user(context, claimant, user_id)
            return True
        if self.idle:
            handover, user = self.idle.pop()
            renew_user(context, user, user_id)
            handover.set_result(True)
            return False
        task = self.loop.create_task(self._user_task(new_user(context, user_id)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return False

    def _must_wait(self) -> bool:
        """Whether a late arrival waits for a connection instead of opening one (see States)."""
        origin = self.hold_origin
        if origin is None:
            return False
        open_now, idle_now = self.runner.client.connection_counts(origin)
        if idle_now:
            return False
        if open_now + self.opening >= self.hold_floor:
            if self.state is not DispatchState.CATCHING_UP or self.catch_up == 0:
                return True
            self.catch_up -= 1
        self.opening += 1  # its connection opens in a task that has not run yet
        return False

    def _keep_waiting(self, now: int) -> None:
        """Keep the due arrivals waiting, and drop the oldest of them beyond `max_in_flight`
        (counting what waits as in flight): the bound holds whether they wait or run."""
        excess = self.busy + self._waiting_at(now) - self.max_in_flight
        if excess > 0:
            self.k += excess
            self.stats.dropped += excess
            self.next_due = self._due_ns(self.k)

    async def _user_task(self, user: UserState) -> None:
        """One pooled user task: runs an iteration, then takes the next due arrival, or waits
        idle for one to be handed over (False: the stage is over)."""
        context, runner = self.context, self.runner
        while True:
            try:
                await runner.run(begin_iteration(context, user), user)
            finally:
                self.busy -= 1
            if self.state is DispatchState.DRAINING:
                return
            if not self.dispatch(user):
                handover: asyncio.Future[bool] = self.loop.create_future()
                self.idle.append((handover, user))
                if not await handover:
                    return

    def _plain_ended(self, plain_user: PlainUser) -> None:
        self.busy -= 1
        self.crowd.stopped()
        if self.state is not DispatchState.DRAINING:
            self.idle_users.append(plain_user)

    def _due_ns(self, k: int) -> int:
        if k >= self.total:
            return _NEVER_NS
        return self.start_ns + int(self.schedule.arrival_time(k) * 1e9)

    def _waiting_at(self, now: int) -> int:
        """Arrivals due by `now` that have not started."""
        return self.schedule.arrivals_by((now - self.start_ns) / 1e9) - self.k


async def run_open(
    context: WorkerContext,
    schedule: ArrivalSchedule,
    max_in_flight: int,
    start_ns: int,
    grace: float,
    control: StageControl,
    stats: ExecutorStats,
    *,
    counted: bool = False,
) -> None:
    """Start iterations at the schedule's arrival times from the monotonic time `start_ns`,
    until the stage's length has passed (a `counted` stage: until its arrivals are out)."""
    dispatcher = OpenDispatcher(context, schedule, max_in_flight, start_ns, control, stats)
    await dispatcher.run(grace, counted=counted)


def _first_origin(compiled: CompiledScenario) -> Origin | None:
    """The origin every flow's first request goes to, or None when they differ."""
    origins = {
        step.prepared.origin
        for flow in compiled.flows
        for step in flow[:1]
        if isinstance(step, CompiledRequest)
    }
    return origins.pop() if len(origins) == 1 else None
