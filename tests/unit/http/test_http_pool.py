"""The pool's idle connections: most recently used first, closed ones never handed out."""

from __future__ import annotations

import asyncio

from loadlens.http.connection import Connection, ConnectionState
from loadlens.http.pool import Pool


def _idle_connections(loop: asyncio.AbstractEventLoop, pool: Pool, n: int) -> list[Connection]:
    conns = []
    for i in range(n):
        assert pool.reserve()
        conn = Connection(loop, f"c{i}")
        conn.state = ConnectionState.IDLE
        pool.add(conn)
        conns.append(conn)
    return conns


def test_idle_connections_come_back_last_in_first_out() -> None:
    loop = asyncio.new_event_loop()
    try:
        pool = Pool(None)
        a, b, c = _idle_connections(loop, pool, 3)
        for conn in (a, b, c):
            pool.put(conn)
        assert pool.idle_count == 3 and all(conn.pooled for conn in (a, b, c))
        assert pool.take_idle() is c
        pool.put(c)  # the closed model's turn: back and taken again at once
        assert pool.take_idle() is c
        assert [pool.take_idle(), pool.take_idle(), pool.take_idle()] == [b, a, None]
        assert pool.idle_count == 0 and not any(conn.pooled for conn in (a, b, c))
    finally:
        loop.close()


def test_an_idle_connection_lost_or_closed_is_never_handed_out_and_frees_its_slot() -> None:
    loop = asyncio.new_event_loop()
    try:
        pool = Pool(3)
        a, b, c = _idle_connections(loop, pool, 3)
        for conn in (a, b, c):
            pool.put(conn)
        assert not pool.reserve()  # three slots, all held
        c.connection_lost(None)  # the most recent one: the server closed it while idle
        a.connection_lost(None)  # one further down
        assert pool.idle_count == 1
        assert pool.reserve()  # the lost ones' slots are free again
        assert pool.reserve()
        assert not pool.reserve()
        b.state = ConnectionState.CLOSED  # failed while idle, not yet reported lost
        assert pool.take_idle() is None  # b skipped, its slot given up
        assert pool.reserve()
        assert not pool.reserve()
        d, e = _idle_connections(loop, Pool(None), 2)
        pool.put(d)
        pool.put(e)
        e.state = ConnectionState.CLOSED  # the most recent one failed: the next is handed out
        assert pool.take_idle() is d
        assert pool.idle_count == 0
    finally:
        loop.close()
