"""The connections to one origin: idle ones reused LIFO, and FIFO waiters when bounded.

How it works: a *slot* is the right to hold one connection, open or opening. `reserve()` takes
one if the bound allows; a full pool's caller `wait()`s in a FIFO queue. A request that ends
gives its connection back with `put()` (kept alive) or its slot with `release_slot()` (closed
or never opened); either goes to the oldest waiter first, else to the idle stack or the free
count. Every step is O(1), except dropping an idle connection that the server closed, which is
rare and linear in the idle count. Waiters that gave up are skipped when their turn comes.
The idle stack's top is a field of its own (`_top`), the rest a list below it: a closed-model
user puts its connection back and takes it again at once, which then touches no container. A
deque's `append` and `pop` are generic method calls when compiled, and a list emptied by `pop`
frees its storage and allocates it again at the next `append` (callgrind: ~600 instructions a
request for the pair, against ~100 with the field).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

from loadlens.http.connection import Connection, ConnectionState
from loadlens.http.errors import TransportError
from loadlens.model.outcome import ErrorKind

_IDLE: Final = ConnectionState.IDLE


class Pool:
    """The connections of one origin and the slots that bound them."""

    __slots__ = ("_idle", "_slots", "_top", "_waiters", "connections", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.connections: set[Connection] = set()  # every live connection, idle or busy
        # The idle connections, most recently used last: `_top`, else the list's last.
        self._top: Connection | None = None
        self._idle: list[Connection] = []
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._slots = 0

    @property
    def idle_count(self) -> int:
        """Connections waiting in the pool for a request."""
        return len(self._idle) + (self._top is not None)

    def take_idle(self) -> Connection | None:
        """The most recently used idle connection, or None."""
        conn = self._top
        if conn is not None:
            self._top = None
            conn.pooled = False
            if conn.state is _IDLE:
                return conn
            self.release_slot()  # failed while idle and not yet reported lost
        idle = self._idle
        while idle:
            conn = idle.pop()
            conn.pooled = False
            if conn.state is _IDLE:
                return conn
            self.release_slot()
        return None

    def reserve(self) -> bool:
        """Take a slot for a new connection if the bound allows."""
        if self.limit is None or self._slots < self.limit:
            self._slots += 1
            return True
        return False

    async def wait(self) -> Connection | None:
        """Wait in line for an idle connection, or for a slot (None) to open one in."""
        future: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                handed = future.result()  # handed over just as the waiter gave up: pass it on
                if handed is None:
                    self.release_slot()
                else:
                    self.put(handed)
            raise

    def put(self, conn: Connection) -> None:
        """Take back a connection that can carry another request."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.pooled = True
        top = self._top
        if top is not None:
            self._idle.append(top)
        self._top = conn

    def release_slot(self) -> None:
        """Give up the slot of a connection that closed or never opened."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._slots -= 1

    def new_connection(self, loop: asyncio.AbstractEventLoop, where: str) -> Connection:
        """A connection of this pool's protocol, not yet connected."""
        return Connection(loop, where)

    def alpn(self) -> str:
        """The protocol offered by ALPN on a TLS connection."""
        return "http/1.1"

    def add(self, conn: Connection) -> None:
        """Track a newly opened connection (its slot is already reserved)."""
        self.connections.add(conn)
        conn.on_lost = self._lost
        conn.pool = self

    def close(self) -> None:
        """Close every connection and fail every waiter; requests in flight fail `closed`."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TransportError(ErrorKind.CLOSED, "the client was closed"))
        self._top = None
        self._idle.clear()
        for conn in list(self.connections):
            conn.pooled = False
            conn.close()

    async def wait_closed(self) -> None:
        """Return once every connection has been reported lost."""
        for conn in list(self.connections):
            await conn.wait_closed()

    def _lost(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.pooled:  # the server closed an idle keep-alive connection
            conn.pooled = False
            if conn is self._top:
                self._top = None
            else:
                self._idle.remove(conn)
            self.release_slot()
