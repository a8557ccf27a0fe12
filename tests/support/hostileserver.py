"""A hostile HTTP/1.1 server for integration tests, in its own process on 127.0.0.1:0.

Each path misbehaves in one way, and the server counts what it received, so a test can check
what the client did:
- `/big`: a 50 MiB body with its Content-Length;
- `/endless`: a chunked body that never ends (until the client goes away);
- `/long-header`: a head with a 1 MiB header line;
- `/once` (any method): answers the first request of a connection; a second one on the same
  connection is read, counted, and answered by closing the connection, as a server does whose
  idle timeout fires just as the request arrives;
- `/login?key=K` (POST): issues a new bearer token, `{"token": T, "key": K}`;
- `/me`: refuses any token with a 403 whose body names it (`token T has no access`);
- any other path: a small JSON body.
`GET /__counters` returns {"METHOD /path": n} counted over every connection, and
`GET /__tokens` every token issued.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import secrets
import socket
from collections import Counter
from multiprocessing.connection import Connection
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

BIG_BODY = 50 * 1024 * 1024
_BLOCK = b"x" * (1024 * 1024)


async def _send_big(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % BIG_BODY)
    for _ in range(BIG_BODY // len(_BLOCK)):
        writer.write(_BLOCK)
        await writer.drain()


async def _send_endless(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (len(_BLOCK), _BLOCK)
    while True:  # ends when the client closes: drain raises ConnectionError
        writer.write(chunk)
        await writer.drain()


def _answer(
    path: str, query: str, headers: dict[str, str], tokens: list[str], n: int, body: bytes
) -> tuple[int, bytes]:
    if path == "/__tokens":
        return 200, json.dumps(tokens).encode()
    if path == "/login":
        token = secrets.token_urlsafe(18)
        tokens.append(token)
        key = parse_qs(query).get("key", [""])[0]
        return 200, json.dumps({"token": token, "key": key}).encode()
    if path == "/me":
        given = headers.get("authorization", "").removeprefix("Bearer ")
        return 403, json.dumps({"error": f"token {given} has no access"}).encode()
    return 200, json.dumps({"n": n, "got": len(body)}).encode()


async def _serve(
    counters: Counter[str],
    tokens: list[str],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    served = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            parts = urlsplit(target)
            path = parts.path
            served += 1
            status = 200
            if path == "/__counters":
                payload = json.dumps(dict(counters)).encode()
            else:
                counters[f"{method} {path}"] += 1
                n = counters[f"{method} {path}"]
                status, payload = _answer(path, parts.query, headers, tokens, n, body)
            if path == "/big":
                await _send_big(writer)
                continue
            if path == "/endless":
                await _send_endless(writer)
            if path == "/long-header":
                writer.write(b"HTTP/1.1 200 OK\r\nx-long: " + b"a" * (1024 * 1024) + b"\r\n")
                writer.write(b"content-length: 2\r\n\r\nok")
                await writer.drain()
                continue
            if path == "/once" and served > 1:
                break  # read and counted, never answered
            writer.write(
                b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (status, len(payload), payload)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _main(conn: Connection) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    counters: Counter[str] = Counter()
    tokens: list[str] = []

    async def serve() -> None:
        server = await asyncio.start_server(lambda r, w: _serve(counters, tokens, r, w), sock=sock)
        conn.send(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(None))
        await stop
        server.close()

    asyncio.run(serve())


class HostileServer:
    """Start with `with HostileServer() as url:`; stops by itself at exit."""

    def __init__(self) -> None:
        self.url = ""

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_main, args=(child,), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(20):
            raise RuntimeError("hostile test server did not start")
        self.url = f"http://127.0.0.1:{self._conn.recv()}"
        return self.url

    def counters(self) -> dict[str, int]:
        with urlopen(f"{self.url}/__counters", timeout=5) as response:
            data: dict[str, int] = json.loads(response.read())
        return data

    def tokens(self) -> list[str]:
        """Every bearer token `/login` issued."""
        with urlopen(f"{self.url}/__tokens", timeout=5) as response:
            data: list[str] = json.loads(response.read())
        return data

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
