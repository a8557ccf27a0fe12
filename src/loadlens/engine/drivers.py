"""Users of plain flows driven by callbacks: each response sends the user's next request.

A plain flow is made of requests sent once, one after another (`CompiledScenario.plain`): no
think time, no group, no repeat, so its user never waits for anything but a response. Such a
user needs no task, no coroutine and no Future. A `PlainUser` is the `ResponseWaiter` of its
own requests (`HttpClient.request_to`): the connection calls it when a response is complete, it
settles that request with the runner (judging, capturing and recording exactly as
`StepRunner.request` does, through the same `begin`/`settle`/`fail`) and sends the next one,
all within that call. What a Future, a task wake-up and a coroutine frame cost per request is
saved; see docs/benchmarks.md.

The executor owns what happens between iterations through `ended`: the closed model starts the
next iteration, the open model puts the user back in its pool. A `Crowd` counts the users in
the middle of an iteration so that the end of a stage can wait for them (its grace), and then
cancels the rest: their request in flight is recorded as `cancelled` and whatever comes back
for it later is ignored.

A waiter must not raise: an unexpected error in a user is kept in `Crowd.failures`, the user
stops, and the executor raises the error when it next looks (within a control period).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loadlens.engine.compiled import CompiledRequest, Outgoing
from loadlens.engine.runner import StepRunner
from loadlens.engine.user_agent import RedirectChain
from loadlens.engine.variables import UserState
from loadlens.http import Origin, Response, ResponseWaiter, TransportError

# What a user runs next: the requests of the plain flow picked for its next iteration.
PickFlow = Callable[[UserState], tuple[CompiledRequest, ...]]


class Crowd:
    """The callback-driven users of one stage."""

    def __init__(self) -> None:
        self.members: list[PlainUser] = []
        # Members at work: the executor adds one when it sets a member going (a closed user
        # for good, an open arrival for one iteration) and calls `stopped` when it stops.
        self.running = 0
        self.failures: list[Exception] = []
        self._none_running: asyncio.Future[None] | None = None

    def stopped(self) -> None:
        """A member stopped running (a closed user left, an open arrival's iteration ended)."""
        self.running -= 1
        waiter = self._none_running
        if self.running == 0 and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def raise_failure(self) -> None:
        """Raise the first unexpected error of a member, if any."""
        if self.failures:
            raise self.failures[0]

    async def finish(self, grace: float) -> None:
        """Give running members `grace` seconds to stop, then cancel them all."""
        if self.running > 0:
            self._none_running = asyncio.get_running_loop().create_future()
            await asyncio.wait({self._none_running}, timeout=grace)
        for member in self.members:
            member.cancel()
        self.raise_failure()


class PlainUser(ResponseWaiter):
    """One user of plain flows, sending its requests from the callbacks of their responses."""

    __slots__ = (
        "_chain",
        "_client",
        "_crowd",
        "_ended",
        "_hop",
        "_index",
        "_intended",
        "_outgoing",
        "_pick",
        "_requests",
        "_runner",
        "_step",
        "_waiting",
        "gone",
        "quit",
        "sent_before",
        "user",
    )

    def __init__(
        self,
        user: UserState,
        runner: StepRunner,
        pick: PickFlow,
        ended: Callable[[PlainUser], None],
        crowd: Crowd,
    ) -> None:
        self.user = user
        self.quit = False  # leave when this iteration ends (a closed stage ramping down)
        self.gone = False  # the stage is over for this user: nothing more is sent
        self.sent_before = 0  # the runner's `sent` when the iteration began
        self._runner = runner
        self._client = runner.client
        self._pick = pick
        self._ended = ended
        self._crowd = crowd
        self._requests: tuple[CompiledRequest, ...] = ()
        self._index = 0
        self._intended: int | None = None
        self._step: CompiledRequest | None = None
        self._outgoing: Outgoing | None = None
        self._waiting = False  # a request of this user is in flight
        # The redirects the request in flight has followed, and where its last hop went.
        self._chain: RedirectChain | None = None
        self._hop: tuple[Origin, bytes] | None = None
        crowd.members.append(self)

    def iterate(self, intended: int | None = None) -> None:
        """Begin an iteration; its first request is timed from `intended` when given. The
        executor's `ended` is called when the iteration is over."""
        if self.gone:
            return
        self._requests = self._pick(self.user)
        self._index = 0
        self._intended = intended
        self.sent_before = self._runner.sent
        self._next()

    def cancel(self) -> None:
        """The stage is over: the request in flight, if any, counts as cancelled."""
        self.gone = True
        self._chain = None
        if self._waiting:
            self._waiting = False
            assert self._step is not None and self._outgoing is not None
            self._runner.cancel(self._step, self._outgoing)

    # -- ResponseWaiter ---------------------------------------------------------------------

    def on_response(self, response: Response) -> None:
        if not self._waiting:
            return  # cancelled meanwhile
        self._waiting = False
        try:
            step, outgoing = self._step, self._outgoing
            assert step is not None and outgoing is not None
            if step.redirects and 300 <= response.status < 400 and self._redirected(response):
                return
            chain, self._chain = self._chain, None
            if chain is not None and not chain.hops:
                chain = None
            self._runner.settle(step, self.user, self._intended, response, outgoing, chain)
            self._intended = None
            self._index += 1
            self._next()
        except Exception as exc:  # a waiter must not raise: the executor raises it
            self._crash(exc)

    def on_error(self, error: TransportError) -> None:
        if not self._waiting:
            return
        self._waiting = False
        self._chain = None
        try:
            assert self._step is not None and self._outgoing is not None
            self._runner.fail(self._step, self.user, error, self._outgoing)
            self._intended = None
            self._index += 1
            self._next()
        except Exception as exc:
            self._crash(exc)

    # -- internals ----------------------------------------------------------------------------

    def _redirected(self, response: Response) -> bool:
        """Whether `response` was handled as a redirect: its next hop sent, or the chain
        recorded as failed (a loop, too many hops). False: judge it as it is."""
        step, outgoing = self._step, self._outgoing
        assert step is not None and outgoing is not None
        chain, hop = self._chain, self._hop
        if chain is None or hop is None:
            chain = self._chain = RedirectChain(
                step.prepared.origin, step.redirects, response.start_ns
            )
            hop = (step.prepared.origin, outgoing[0])
        try:
            following = self._runner.redirect(step, self.user, chain, response, hop[0], hop[1])
        except TransportError as error:
            self._chain = None
            self._runner.fail(step, self.user, error, outgoing)
            self._intended = None
            self._index += 1
            self._next()
            return True
        if following is None:
            return False
        self._hop = (following.origin, following.data)
        self._waiting = True
        prepared = step.prepared
        self._client.request_to(
            self,
            following.origin,
            following.data,
            following.head,
            prepared.timeouts,
            prepared.max_body,
        )
        return True

    def _next(self) -> None:
        """Send the iteration's next request that can be sent, or end the iteration."""
        requests = self._requests
        runner = self._runner
        index = self._index
        while index < len(requests):
            step = requests[index]
            outgoing = runner.begin(step, self.user)
            if outgoing is not None:
                self._index = index
                self._step = step
                self._outgoing = outgoing
                self._waiting = True
                prepared = step.prepared
                self._client.request_to(
                    self,
                    prepared.origin,
                    outgoing[0],
                    prepared.is_head,
                    prepared.timeouts,
                    prepared.max_body,
                    outgoing[4],
                )
                return
            self._intended = None  # a missing variable: recorded, not sent
            index += 1
        self._index = index
        self._ended(self)

    def _crash(self, exc: Exception) -> None:
        self.gone = True
        self._crowd.failures.append(exc)
        self._crowd.stopped()
