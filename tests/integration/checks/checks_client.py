"""A bounded HTTP client for the checks tests: one keep-alive http.client connection."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_S = 20.0


class Client:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)

    def connect(self) -> None:
        # http.client sends headers and body in two writes: without TCP_NODELAY, Nagle and the
        # server's delayed ACK add ~40 ms to every POST.
        self._conn.connect()
        assert self._conn.sock is not None
        self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        if self._conn.sock is None:
            self.connect()
        payload = json.dumps(body).encode()
        self._conn.request("POST", path, payload, {"Content-Type": "application/json"})
        response = self._conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None


def burst(url: str, path: str, body: Any, count: int) -> list[int]:
    """`count` identical POSTs at once, one connection each, released together."""
    barrier = threading.Barrier(count)

    def one(_: int) -> int:
        with Client(url) as client:
            client.connect()
            barrier.wait(timeout=TIMEOUT_S)
            return client.post(path, body)[0]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))
