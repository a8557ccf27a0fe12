"""The demo's SQLite database and its connection pool.

How it works: the database is one SQLite file in WAL mode, rebuilt and seeded each time the
service starts, so every run begins from the same known state. A `ConnectionPool` owns a fixed
number of connections; a request waits (asynchronously) for a free one, then runs its whole unit
of work in a worker thread holding that connection, and gives it back. The pool counts how many
connections are in use and how many requests are waiting, which /health reports: the numbers a
Little's-law analysis of the service needs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from loadlens.demo.passwords import hash_password

T = TypeVar("T")

DATABASE_NAME = "demo.sqlite3"
# Long enough that writers queued behind BEGIN IMMEDIATE wait rather than fail under load.
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    username TEXT UNIQUE,
    password_hash TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE refresh_tokens (
    token TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE TABLE organizations (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL
);
-- No CHECK (used_units + scheduled_units <= total_units): like the service in the report, the
-- invariant lives in the application, which is what lets the no-lock fault overbook.
CREATE TABLE authorizations (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER REFERENCES patients (id),
    total_units INTEGER NOT NULL,
    used_units INTEGER NOT NULL DEFAULT 0,
    scheduled_units INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE unit_events (
    id INTEGER PRIMARY KEY,
    authorization_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    units INTEGER NOT NULL,
    created_at REAL NOT NULL
);
"""

SEED_PASSWORD = "secret"
# Seed accounts share one salt so startup hashes once per cost, not once per account.
SEED_SALT = "demo-seed"
ORGANIZATIONS = ("OrgA", "OrgB", "OrgC")
PATIENTS = 20
# (count, total_units) as in the clinic report: contention targets, normal, high-throughput.
SEED_AUTHORIZATIONS = ((10, 50), (20, 200), (25, 1000))


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from any worker thread (one at a time)."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A transaction that takes the write lock up front, so its reads cannot go stale."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def create_database(data_dir: Path, *, seed_users: int, hash_of: Callable[[int], str]) -> Path:
    """A fresh, seeded database in `data_dir`; `hash_of(k)` is seed user k's password hash."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DATABASE_NAME
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        now = time.time()
        with immediate(conn):
            conn.executemany(
                "INSERT INTO users (id, name, email, username, password_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (k, f"User {k}", f"user{k}@example.test", f"user{k}", hash_of(k), now)
                    for k in range(seed_users)
                ),
            )
            conn.executemany(
                "INSERT INTO organizations (id, name) VALUES (?, ?)",
                enumerate(ORGANIZATIONS, start=1),
            )
            conn.executemany(
                "INSERT INTO patients (id, organization_id, name) VALUES (?, ?, ?)",
                ((p, p % len(ORGANIZATIONS) + 1, f"Patient {p}") for p in range(1, PATIENTS + 1)),
            )
            totals = [units for count, units in SEED_AUTHORIZATIONS for _ in range(count)]
            conn.executemany(
                "INSERT INTO authorizations (id, patient_id, total_units) VALUES (?, ?, ?)",
                ((a, a % PATIENTS + 1, units) for a, units in enumerate(totals, start=1)),
            )
    finally:
        conn.close()
    return path


def seed_hashes(iterations: int, slow_every: int | None, slow_factor: int) -> Callable[[int], str]:
    """Seed user k's hash: cost `iterations`, or ×`slow_factor` for every `slow_every`-th user."""
    cache: dict[int, str] = {}

    def hash_of(k: int) -> str:
        slow = slow_every is not None and k % slow_every == slow_every - 1
        cost = iterations * slow_factor if slow else iterations
        if cost not in cache:
            cache[cost] = hash_password(SEED_PASSWORD, iterations=cost, salt=SEED_SALT)
        return cache[cost]

    return hash_of


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of the pool: connections it has, lends now, and requests waiting for one."""

    size: int
    in_use: int
    waiting: int


class ConnectionPool:
    """A fixed set of connections, lent one per unit of work run in a worker thread."""

    def __init__(self, path: Path, *, size: int, hold_s: float = 0.0) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, got {size}")
        self._connections = [connect(path) for _ in range(size)]
        self._free: asyncio.Queue[sqlite3.Connection] = asyncio.Queue()
        for conn in self._connections:
            self._free.put_nowait(conn)
        self._hold_s = hold_s
        self._in_use = 0
        self._waiting = 0

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` in a worker thread once a connection is free."""
        self._waiting += 1
        try:
            conn = await self._free.get()
        finally:
            self._waiting -= 1
        self._in_use += 1
        try:
            return await run_in_threadpool(self._hold, work, conn)
        finally:
            self._in_use -= 1
            self._free.put_nowait(conn)

    def _hold(self, work: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
        if self._hold_s:
            # The small-pool fault: a fixed service time per operation, as a slow database or
            # network hop would add, so 2 connections cap throughput near 2 / hold_s.
            time.sleep(self._hold_s)
        return work(conn)

    def stats(self) -> PoolStats:
        """How many connections the pool has, lends now, and how many requests wait."""
        return PoolStats(len(self._connections), self._in_use, self._waiting)

    def close(self) -> None:
        """Close every connection; the pool must not be used afterwards."""
        for conn in self._connections:
            conn.close()
