"""A small, real HTTP/1.1 server for integration tests, run in its own process on 127.0.0.1:0.

It is deliberately simple (keep-alive, Content-Length bodies) and deterministic:
- `crud`: an in-memory users API that counts every request by route;
- `delays`: every 10th request (9 of 10) takes 10 ms, the 10th 100 ms — a known distribution;
- `stall`: answers at once, except that the whole server freezes for 500 ms once, at the
  first request after `stall_after` seconds (a GC pause or a stuck event loop);
- `bucket`: a service with a capacity fixed by construction, not by the machine's speed: a
  token bucket of BUCKET_BURST tokens refilled at BUCKET_RATE per second; a request that finds
  a token takes it and gets 200 at once, one that finds none gets 503 at once. Over a window of
  T seconds starting with a full bucket it serves at most BUCKET_RATE * T + BUCKET_BURST.
`GET /__counters` returns the per-route counters as JSON in every mode.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

_USER_PATH = re.compile(r"^/users/([^/?]+)$")
# `bucket` mode: the sustained rate it serves, and the burst it absorbs (room for a load
# generator that falls behind on a busy machine and then sends its late arrivals at once).
BUCKET_RATE = 100.0
BUCKET_BURST = 30.0


@dataclass
class State:
    mode: str
    stall_after: float = 1.0
    counters: Counter[str] = field(default_factory=Counter)
    users: dict[str, dict[str, object]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    served: int = 0
    started: float = field(default_factory=time.monotonic)
    stalled: bool = False
    tokens: float = BUCKET_BURST
    refilled: float = field(default_factory=time.monotonic)


def _json(status: int, value: object) -> tuple[int, bytes]:
    return status, json.dumps(value).encode()


async def _handle(state: State, method: str, target: str, body: bytes) -> tuple[int, bytes]:
    path = target.split("?", 1)[0]
    if path == "/__counters":
        return _json(200, dict(state.counters))
    state.served += 1
    if state.mode == "delays":
        state.counters[f"{method} {path}"] += 1
        await asyncio.sleep(0.1 if state.served % 10 == 0 else 0.01)
        return _json(200, {"n": state.served})
    if state.mode == "slow":  # every answer takes 20 ms: R arrivals/s keep R/50 in flight
        state.counters[f"{method} {path}"] += 1
        await asyncio.sleep(0.02)
        return _json(200, {"n": state.served})
    if state.mode == "stall":
        state.counters[f"{method} {path}"] += 1
        if not state.stalled and time.monotonic() - state.started > state.stall_after:
            state.stalled = True
            time.sleep(0.5)  # freezes the whole loop: every request in flight waits
        return _json(200, {"ok": True})
    if state.mode == "bucket":
        return _from_bucket(state, method, path)
    return _crud(state, method, path, body)


def _from_bucket(state: State, method: str, path: str) -> tuple[int, bytes]:
    now = time.monotonic()
    state.tokens = min(BUCKET_BURST, state.tokens + (now - state.refilled) * BUCKET_RATE)
    state.refilled = now
    if state.tokens < 1.0:
        state.counters["503"] += 1
        return _json(503, {"error": "over capacity"})
    state.tokens -= 1.0
    state.counters[f"{method} {path}"] += 1
    return _json(200, {"ok": True})


def _crud(state: State, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    match = _USER_PATH.match(path)
    if path == "/users" and method == "POST":
        state.counters["POST /users"] += 1
        user_id = f"user-{next(state.ids)}"
        user = {"id": user_id, **json.loads(body or b"{}")}
        state.users[user_id] = user
        return _json(201, user)
    if path == "/users" and method == "GET":
        state.counters["GET /users"] += 1
        return _json(200, {"items": list(state.users.values())[:20]})
    if match and method in ("GET", "PUT"):
        state.counters[f"{method} /users/{{id}}"] += 1
        user = state.users.get(match.group(1))
        if user is None:
            return _json(404, {"error": "no such user"})
        if method == "PUT":
            user.update(json.loads(body or b"{}"))
        return _json(200, user)
    state.counters[f"{method} {path}"] += 1
    return _json(404, {"error": "not found"})


async def _serve_connection(
    state: State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            status, payload = await _handle(state, method, target, body)
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _main(conn: Connection, mode: str, stall_after: float) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    state = State(mode=mode, stall_after=stall_after)

    async def serve() -> None:
        server = await asyncio.start_server(lambda r, w: _serve_connection(state, r, w), sock=sock)
        conn.send(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(None))
        await stop
        server.close()

    asyncio.run(serve())


class LocalServer:
    """Start with `with LocalServer("crud") as url:`; stops by itself at exit."""

    def __init__(self, mode: str, *, stall_after: float = 1.0) -> None:
        self.mode = mode
        self.stall_after = stall_after
        self.url = ""

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_main, args=(child, self.mode, self.stall_after), daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(20):
            raise RuntimeError("test server did not start")
        self.url = f"http://127.0.0.1:{self._conn.recv()}"
        return self.url

    def counters(self) -> dict[str, int]:
        from urllib.request import urlopen

        with urlopen(f"{self.url}/__counters", timeout=5) as response:
            data: dict[str, int] = json.loads(response.read())
        return data

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
