"""The demo service's application factory and its /health and /stats endpoints."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadlens.demo.auth import Auth
from loadlens.demo.cache import Cache, LeakyCache, ReadCache
from loadlens.demo.chat import Chat
from loadlens.demo.clinic import Clinic
from loadlens.demo.db import ConnectionPool, create_database, seed_hashes
from loadlens.demo.faults import Faults
from loadlens.demo.passwords import DEFAULT_ITERATIONS
from loadlens.demo.ratelimit import DEFAULT_RATE_PER_S, RateLimiter
from loadlens.demo.users import Users
from loadlens.demo.web import CountRequests, Endpoints, RequestCounters

POOL_SIZE = 8
# small-pool: 2 connections each held 2 ms per operation cap throughput near 1,000 ops/s.
SMALL_POOL_SIZE = 2
SMALL_POOL_HOLD_S = 0.002
# slow-hash: every 5th seed account (user4, user9, ...) verifies at 200x the cost. One login in
# five is slow, so the median stays fast and p95 lands in the slow group: p95/p50 near the cost
# ratio, whatever the concurrency, because the slow hashes run in worker threads (PBKDF2 drops
# the GIL) and a 2-core machine still serves the fast logins between them.
SLOW_HASH_EVERY = 5
SLOW_HASH_FACTOR = 200


class Health:
    """Serves what the service knows about itself: uptime, memory, cache, counters, pool."""

    def __init__(
        self, counters: RequestCounters, cache: Cache, pool: ConnectionPool, faults: Faults
    ) -> None:
        self._counters = counters
        self._cache = cache
        self._pool = pool
        self._faults = faults
        self._started = time.monotonic()
        self._process = psutil.Process()

    def routes(self, endpoints: Endpoints) -> list[Route]:
        """/health and /stats, counted but never rate limited."""
        return [
            Route("/health", endpoints.wrap("GET /health", self.health, limited=False)),
            Route("/stats", endpoints.wrap("GET /stats", self.stats, limited=False)),
        ]

    async def health(self, request: Request) -> Response:
        """GET /health → uptime, memory, cache, request counters, pool and faults."""
        return JSONResponse(
            {
                "status": "ok",
                "uptime_s": round(time.monotonic() - self._started, 3),
                "memory": {"rss": self._process.memory_info().rss},
                **self._snapshot(),
                "faults": list(self._faults.names),
            }
        )

    async def stats(self, request: Request) -> Response:
        """GET /stats → the counters, cache and pool only (no system calls)."""
        return JSONResponse(self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        cache, pool = self._cache.stats(), self._pool.stats()
        return {
            "cache": {"hits": cache.hits, "misses": cache.misses, "size": cache.size},
            "requests": self._counters.snapshot(),
            "db_pool": {"size": pool.size, "in_use": pool.in_use, "waiting": pool.waiting},
        }


def create_app(
    data_dir: Path,
    *,
    faults: Collection[str] = (),
    hash_iterations: int | None = None,
    rate_limit_per_s: float | None = None,
    seed_users: int = 100,
) -> Starlette:
    """The demo service over a fresh database in `data_dir`, with `faults` switched on."""
    active = Faults.parse(faults)
    iterations = hash_iterations if hash_iterations is not None else DEFAULT_ITERATIONS
    if iterations < 1:
        raise ValueError(f"hash_iterations must be at least 1, got {iterations}")
    path = create_database(
        Path(data_dir),
        seed_users=seed_users,
        hash_of=seed_hashes(
            iterations, SLOW_HASH_EVERY if active.slow_hash else None, SLOW_HASH_FACTOR
        ),
    )
    if active.small_pool:
        pool = ConnectionPool(path, size=SMALL_POOL_SIZE, hold_s=SMALL_POOL_HOLD_S)
    else:
        pool = ConnectionPool(path, size=POOL_SIZE)
    cache: Cache = LeakyCache() if active.leak else ReadCache()
    counters = RequestCounters()
    endpoints = Endpoints(
        counters,
        RateLimiter(rate_limit_per_s if rate_limit_per_s is not None else DEFAULT_RATE_PER_S),
    )
    routes = [
        *Health(counters, cache, pool, active).routes(endpoints),
        *Users(pool, cache, id_format_fault=active.id_format).routes(endpoints),
        *Auth(pool, token_race_fault=active.token_race).routes(endpoints),
        *Chat(pool).routes(endpoints),
        *Clinic(pool, no_lock_fault=active.no_lock).routes(endpoints),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.close()

    return Starlette(
        routes=routes,
        middleware=[Middleware(CountRequests, counters=counters)],
        lifespan=lifespan,
    )
