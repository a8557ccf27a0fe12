"""HttpClient: sends encoded requests over pooled keep-alive connections.

How it works: `request()` takes the newest idle connection of the origin's pool (no await on
that path), or reserves a slot and connects, or waits in line when the pool is bounded and
full. The connection writes the request and resolves one Future; the client gives the
connection back to the pool if it is still alive and kept alive, else gives up its slot.

A request sent on a reused connection that fails with `reset` or `closed` before any response
byte is retried once on a new connection: the server most likely closed the idle socket just
as the request left. Only the retry's outcome is reported. (Like other clients, this resends
whatever the method; a server that shuts an idle socket has not read the request.)
"""

from __future__ import annotations

import asyncio
import math
import ssl
from time import monotonic_ns

from loadlens.http.connection import Connection, ConnectionState
from loadlens.http.errors import TransportError, transport_error
from loadlens.http.options import ClientOptions
from loadlens.http.origin import Origin
from loadlens.http.pool import Pool
from loadlens.http.response import Response, Timings
from loadlens.model.outcome import ErrorKind

_IDLE = ConnectionState.IDLE
_STALE = frozenset({ErrorKind.RESET, ErrorKind.CLOSED})
_FOREVER_NS = 1 << 62  # ~146 years: a deadline that never comes, still an int


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
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or busy, over every origin."""
        return sum(len(pool.connections) for pool in self._pools.values())

    async def request(
        self,
        origin: Origin,
        data: bytes,
        *,
        head: bool = False,
        timeouts: tuple[float | None, float | None, float | None] | None = None,
    ) -> Response:
        """Send `data`, a whole encoded request, and return the complete response.

        `head` says the request was a HEAD (its response has no body); `timeouts` overrides
        (connect, read, total) for this request, None entries keeping the client's options.
        Raises TransportError when no response came.
        """
        start = monotonic_ns()
        connect_ns, read_ns, total_ns = self._connect_ns, self._read_ns, self._total_ns
        if timeouts is not None:
            connect_ns, read_ns, total_ns = self._override(timeouts)
        deadline = start + total_ns
        last_origin, pool = self._last
        if last_origin is not origin or pool is None:
            pool = self._pools.get(origin)
            if pool is None:
                pool = self._open_pool(origin)
            self._last = (origin, pool)
        conn = pool.take_idle()
        if conn is not None:
            reused, connected = True, start
        else:
            conn, reused = await self._checkout(pool, origin, start, deadline, connect_ns)
            connected = monotonic_ns()
        retried = False
        while True:
            future = conn.send(data, start, connected, reused, head, read_ns, deadline)
            try:
                response = await future
            except TransportError as exc:
                if retried or not reused or exc.kind not in _STALE or not conn.received_nothing:
                    pool.release_slot()
                    raise
                retried, reused = True, False  # a stale keep-alive socket: once more, anew
                conn = await self._connect(pool, origin, start, deadline, connect_ns)
                connected = monotonic_ns()
                continue
            except BaseException:
                conn.abandon()
                pool.release_slot()
                raise
            if conn.state is _IDLE:
                pool.put(conn)
            else:
                pool.release_slot()
            return response

    async def close(self) -> None:
        """Close every pooled connection; requests still in flight fail with `closed`."""
        self._closed = True
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

    def _open_pool(self, origin: Origin) -> Pool:
        if self._closed:
            raise TransportError(ErrorKind.CLOSED, f"{origin}: the client is closed")
        pool = self._pools[origin] = Pool(self.options.max_connections_per_origin)
        return pool

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
        tls = self._tls_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(_to_seconds(limit_ns)):
                transport, conn = await loop.create_connection(
                    lambda: Connection(loop, where),
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
        pool.add(conn)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            context = ssl.create_default_context()
            if not self.options.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["http/1.1"])
            self._tls = context
        return self._tls
