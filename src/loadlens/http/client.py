"""HttpClient: sends encoded requests over pooled keep-alive connections.

How it works: `request()` takes the newest idle connection of the origin's pool and returns the
connection's own Future for the response: no coroutine, no await, on this path, which is the
path of nearly every request of a load test. When no connection is idle it returns a coroutine
instead, which reserves a slot and connects, or waits in line when the pool is bounded and
full. Either way the caller just awaits what it got.

The connection settles with its pool when its exchange ends (see `loadlens.http.connection`):
back to the idle list if kept alive, else its slot is given up. A request sent on a reused
connection that fails with `reset` or `closed` before any response byte is resent once on a new
connection: the server most likely closed the idle socket just as the request left. Only the
resend's outcome reaches the caller. Only idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT,
DELETE) are resent so, and requests never written: a POST or PATCH the server may have read
fails as `reset` or `closed` instead, as Go, urllib3 and httpcore do.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Awaitable, Coroutine
from functools import partial
from typing import Any, Final

from loadlens.http.connection import Connection, ConnectionState, ResponseWaiter, Unsent
from loadlens.http.errors import TransportError, transport_error
from loadlens.http.options import ClientOptions
from loadlens.http.origin import Origin
from loadlens.http.pool import Pool
from loadlens.http.response import Response, Timings
from loadlens.http.upload import Upload
from loadlens.model.outcome import ErrorKind

# Names used per request are Final (see "Writing for the compiled modules" in loadlens.native).
_IDLE: Final = ConnectionState.IDLE
monotonic_ns: Final = time.monotonic_ns
_FOREVER_NS: Final = 1 << 62  # ~146 years: a deadline that never comes, still an int


def _to_ns(seconds: float) -> int:
    return _FOREVER_NS if math.isinf(seconds) else int(seconds * 1e9)


def _to_seconds(ns: int) -> float | None:
    return None if ns >= _FOREVER_NS // 2 else max(ns, 0) / 1e9


class HttpClient:
    """An HTTP/1.1 client for load: keep-alive pools per origin, timeouts, stable error kinds."""

    def __init__(self, options: ClientOptions = ClientOptions()) -> None:  # noqa: B008
        self.options = options
        self._pools: dict[Origin, Pool] = {}
        # The pool of the last origin asked for: nearly every run has one origin, and an
        # identity test is cheaper than hashing the Origin dataclass per request.
        self._last: tuple[Origin | None, Pool | None] = (None, None)
        self._connect_ns = _to_ns(options.connect_timeout)
        self._read_ns = _to_ns(options.read_timeout)
        self._total_ns = _to_ns(options.total_timeout)
        self._max_body = options.max_body
        self._tls: dict[str, ssl.SSLContext] = {}  # by the protocol offered (ALPN)
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()  # connecting for a waiter, resending

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or busy, over every origin."""
        return sum(len(pool.connections) for pool in self._pools.values())

    def connection_counts(self, origin: Origin) -> tuple[int, int]:
        """Connections to `origin` open now, and how many of them are idle in its pool."""
        pool = self._pools.get(origin)
        return (0, 0) if pool is None else (len(pool.connections), pool.idle_count)

    def request(
        self,
        origin: Origin,
        data: bytes,
        *,
        head: bool = False,
        timeouts: tuple[float | None, float | None, float | None] | None = None,
        max_body: int | None = None,
        upload: Upload | None = None,
    ) -> Awaitable[Response]:
        """Send `data`, a whole encoded request; await the result for the complete response.

        `head` says the request was a HEAD (its response has no body); `timeouts` overrides
        (connect, read, total) for this request, None entries keeping the client's options;
        `max_body` overrides the body kept; `upload` is a body streamed after `data` (whose
        head counted it in its `Content-Length`). The awaitable raises TransportError when no
        response came.
        """
        start = monotonic_ns()
        connect_ns, read_ns, total_ns = self._connect_ns, self._read_ns, self._total_ns
        if timeouts is not None:
            connect_ns, read_ns, total_ns = self._override(timeouts)
        if max_body is None:
            max_body = self._max_body
        last_origin, pool = self._last
        if last_origin is not origin or pool is None:
            pool = self._pool_of(origin)
        conn = pool.take_idle()
        if conn is not None and pool.limit is None:
            return conn.send(
                data, start, start, True, head, read_ns, start + total_ns, max_body, upload
            )
        return self._request_guarded(
            pool,
            origin,
            conn,
            data,
            head,
            start,
            connect_ns,
            read_ns,
            start + total_ns,
            max_body,
            upload,
        )

    def request_to(
        self,
        waiter: ResponseWaiter,
        origin: Origin,
        data: bytes,
        head: bool,
        timeouts: tuple[float | None, float | None, float | None] | None,
        max_body: int | None = None,
        upload: Upload | None = None,
    ) -> None:
        """Send `data` as `request` does, but tell `waiter` how it ended instead of a Future.

        The waiter is called later, never from inside this call. A waiter that stops caring
        just ignores the call; its exchange ends by itself as with a cancelled `request`.
        """
        start = monotonic_ns()
        connect_ns, read_ns, total_ns = self._connect_ns, self._read_ns, self._total_ns
        if timeouts is not None:
            connect_ns, read_ns, total_ns = self._override(timeouts)
        if max_body is None:
            max_body = self._max_body
        last_origin, pool = self._last
        if last_origin is not origin or pool is None:
            try:
                pool = self._pool_of(origin)
            except TransportError as error:
                asyncio.get_running_loop().call_soon(waiter.on_error, error)
                return
        conn = pool.take_idle()
        if conn is not None:
            conn.start(
                waiter, data, start, start, True, head, read_ns, start + total_ns, max_body, upload
            )
            return
        unsent = Unsent(waiter, data, head, start, read_ns, start + total_ns, max_body, upload)
        self._in_background(self._send_anew(pool, origin, connect_ns, unsent, checkout=True))

    async def _request_guarded(
        self,
        pool: Pool,
        origin: Origin,
        conn: Connection | None,
        data: bytes,
        head: bool,
        start: int,
        connect_ns: int,
        read_ns: int,
        deadline: int,
        max_body: int,
        upload: Upload | None,
    ) -> Response:
        """A request on a new connection, the next one free, or an idle one of a bounded pool.

        A caller that stops waiting here closes the connection at once: in a bounded pool its
        slot may be someone's next turn.
        """
        connected = start
        reused = True
        if conn is None:
            conn, reused = await self._checkout(pool, origin, start, deadline, connect_ns)
            connected = monotonic_ns()
        future = conn.send(
            data, start, connected, reused, head, read_ns, deadline, max_body, upload
        )
        try:
            return await future
        except asyncio.CancelledError:
            conn.abandon(future)
            raise

    async def warm(self, origin: Origin, count: int) -> int:
        """Open `count` connections to `origin` at once and leave them idle in its pool; how
        many opened. A failure is not raised: the requests that follow meet it and report it.

        An open-model stage starts with a few connections ready, so that its first arrivals
        (dozens per millisecond at high rates) do not each wait for a handshake of their own.
        """
        pool = self._pool_of(origin)
        start = monotonic_ns()

        async def one() -> bool:
            if not pool.reserve():
                return False
            try:
                conn = await self._connect(
                    pool, origin, start, start + self._total_ns, self._connect_ns
                )
            except TransportError:
                return False
            pool.put(conn)
            return True

        opened = await asyncio.gather(*(one() for _ in range(count)))
        return sum(opened)

    async def close(self) -> None:
        """Close every pooled connection; requests still in flight fail with `closed`."""
        self._closed = True
        for task in list(self._background):
            task.cancel()
        pools = list(self._pools.values())
        self._pools.clear()
        self._last = (None, None)
        for pool in pools:
            pool.close()
        for pool in pools:
            await pool.wait_closed()

    # -- internals ---------------------------------------------------------------------------

    def _override(
        self, timeouts: tuple[float | None, float | None, float | None]
    ) -> tuple[int, int, int]:
        connect, read, total = timeouts
        return (
            self._connect_ns if connect is None else _to_ns(connect),
            self._read_ns if read is None else _to_ns(read),
            self._total_ns if total is None else _to_ns(total),
        )

    def _pool_of(self, origin: Origin) -> Pool:
        """The origin's pool, opened if need be, remembered as the last one asked for."""
        pool = self._pools.get(origin)
        if pool is None:
            if self._closed:
                raise TransportError(ErrorKind.CLOSED, f"{origin}: the client is closed")
            pool = self._pools[origin] = self._new_pool(origin)
        self._last = (origin, pool)
        return pool

    def _new_pool(self, origin: Origin) -> Pool:
        """The pool of a new origin: the protocol is chosen here, once per origin."""
        if self.options.http2:
            from loadlens.http.http2 import Http2Pool  # imports h2 only when asked for

            return Http2Pool(self.options.max_streams, origin.scheme, origin.host_header)
        return Pool(self.options.max_connections_per_origin)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` as a task that `close` cancels if it is still running."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_stale(self, pool: Pool, origin: Origin, connect_ns: int, unsent: Unsent) -> None:
        """A connection's `on_stale` (bound to its pool by `partial`): resend in a new task,
        on a new connection in the slot of the one that failed."""
        self._in_background(self._send_anew(pool, origin, connect_ns, unsent, checkout=False))

    async def _send_anew(
        self, pool: Pool, origin: Origin, connect_ns: int, unsent: Unsent, *, checkout: bool
    ) -> None:
        """Send on a connection got by `_checkout` (or, when `checkout` is False, opened in a
        slot already held); a failure to get one goes to the waiter."""
        waiter, data, head, start, read_ns, deadline, max_body, upload = unsent
        reused = False
        try:
            if checkout:
                conn, reused = await self._checkout(pool, origin, start, deadline, connect_ns)
            else:
                conn = await self._connect(pool, origin, start, deadline, connect_ns)
        except TransportError as error:
            if isinstance(waiter, ResponseWaiter):
                waiter.on_error(error)
            elif not waiter.done():
                waiter.set_exception(error)
            return
        if isinstance(waiter, asyncio.Future) and waiter.done():
            conn.state = _IDLE  # the caller stopped waiting meanwhile: the connection stays idle
            pool.put(conn)
            return
        conn.start(
            waiter, data, start, monotonic_ns(), reused, head, read_ns, deadline, max_body, upload
        )

    async def _checkout(
        self, pool: Pool, origin: Origin, start: int, deadline: int, connect_ns: int
    ) -> tuple[Connection, bool]:
        """A connection when none is idle: a new one, or the next one free in a full pool."""
        if pool.reserve():
            return await self._connect(pool, origin, start, deadline, connect_ns), False
        try:
            async with asyncio.timeout(_to_seconds(deadline - monotonic_ns())):
                handed = await pool.wait()
        except TimeoutError:
            timings = Timings(start, 0, 0, 0, monotonic_ns(), False)
            message = f"{origin}: no connection free within the total timeout"
            raise TransportError(ErrorKind.TOTAL_TIMEOUT, message, timings) from None
        if handed is not None and handed.state is _IDLE:
            return handed, True
        # A slot, or a connection that closed on its way to us (its slot is ours now).
        return await self._connect(pool, origin, start, deadline, connect_ns), False

    async def _connect(
        self, pool: Pool, origin: Origin, start: int, deadline: int, connect_ns: int
    ) -> Connection:
        """Open a connection in a slot already reserved; the slot is released on failure."""
        loop = asyncio.get_running_loop()
        where = str(origin)
        left = deadline - monotonic_ns()
        limit_ns, kind = (connect_ns, ErrorKind.CONNECT_TIMEOUT)
        if left < connect_ns:
            limit_ns, kind = left, ErrorKind.TOTAL_TIMEOUT
        tls = self._tls_context(pool.alpn()) if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(_to_seconds(limit_ns)):
                transport, conn = await loop.create_connection(
                    lambda: pool.new_connection(loop, where),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
        except TimeoutError:
            pool.release_slot()
            timings = Timings(start, 0, 0, 0, monotonic_ns(), False)
            seconds = limit_ns / 1e9
            message = f"{where}: not connected within {seconds:g} s"
            raise TransportError(kind, message, timings) from None
        except asyncio.CancelledError:
            pool.release_slot()
            raise
        except Exception as exc:
            pool.release_slot()
            timings = Timings(start, 0, 0, 0, monotonic_ns(), False)
            raise transport_error(exc, where, timings) from None
        conn.attach(transport)
        conn.on_stale = partial(self._on_stale, pool, origin, connect_ns)
        pool.add(conn)
        return conn

    def _tls_context(self, alpn: str) -> ssl.SSLContext:
        context = self._tls.get(alpn)
        if context is None:
            context = ssl.create_default_context()
            if not self.options.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            # h2 alone for HTTP/2: a server without it then says so by ALPN, and the request
            # fails with a clear message instead of a silent fallback to HTTP/1.1.
            context.set_alpn_protocols([alpn])
            self._tls[alpn] = context
        return context
