"""A small, bounded HTTP driver for the demo tests: keep-alive http.client, one per thread."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None


class Client:
    """One keep-alive connection to the demo service."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def connect(self) -> None:
        self._conn.connect()

    def send(self, call: Call) -> Reply:
        return self.request(call.method, call.path, call.body, call.headers)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        started = time.perf_counter()
        self._conn.request(method, path, body=payload, headers=all_headers)
        response = self._conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, data, elapsed
        )

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)


def burst(url: str, calls: Sequence[Call]) -> list[Reply]:
    """Send every call at once, one connection each, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def one(call: Call) -> Reply:
        with Client(url) as client:
            client.connect()
            barrier.wait(timeout=TIMEOUT_S)
            return client.send(call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def drive(url: str, calls: Sequence[Call], *, clients: int) -> list[Reply]:
    """Send `calls` over `clients` connections, call i on connection i % clients, in order."""

    def share(index: int) -> list[Reply]:
        with Client(url) as client:
            return [client.send(call) for call in calls[index::clients]]

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return [reply for replies in pool.map(share, range(clients)) for reply in replies]


def sustain(
    url: str, make_call: Callable[[int], Call], *, clients: int, duration_s: float
) -> list[Reply]:
    """`clients` closed-loop clients, each sending calls back to back for `duration_s`."""
    barrier = threading.Barrier(clients)

    def loop(index: int) -> list[Reply]:
        replies = []
        with Client(url) as client:
            client.connect()
            barrier.wait(timeout=TIMEOUT_S)
            deadline = time.perf_counter() + duration_s
            while time.perf_counter() < deadline:
                replies.append(client.send(make_call(index)))
        return replies

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return [reply for replies in pool.map(loop, range(clients)) for reply in replies]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile q (0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]
