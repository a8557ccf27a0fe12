"""A small service with one injectable fault per diagnosis class, for the diagnosis tests.

Written for these tests (not the demo), run in its own process on 127.0.0.1:0, HTTP/1.1 with
keep-alive and Content-Length bodies. Each fault has a clean twin: the same routes, the fault
off. The faults, and what the diagnosis should say about them:

- `literal-value`: `GET /items?sort=price` answers 500 (the column has no index and the query
  planner gives up); any other sort answers 200. A service bug on one input value.
- `if-match`: `GET /docs/1` answers the document's version as `ETag`; `PUT /docs/1` with an
  `If-Match` that is no longer current answers 412. Contention on one record. (Clean: the
  service ignores `If-Match`, last writer wins.)
- `name-race`: `POST /files {"name": ...}` checks the name is free, then inserts after an
  await: two requests with the same name in flight both pass the check and the second insert
  answers 500 "UNIQUE constraint failed". A race. (Clean: check and insert in one step; a
  taken name answers 200 with the existing file.)
- `slow-id`: `GET /products/7` takes 40 ms, other ids about 1 ms. Latency that depends on a
  path value. (Clean: every id about 1 ms.)
- `big-body`: `POST /upload` answers 500 when the body is over 4,096 bytes. A 5xx that depends
  on the body's size. (Clean: every size 201.)
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

FAULTS = ("literal-value", "if-match", "name-race", "slow-id", "big-body")
BODY_LIMIT = 4096
SLOW_ID = "7"

Reply = tuple[int, bytes, list[tuple[str, str]]]


@dataclass
class State:
    fault: str | None
    version: int = 1
    files: dict[str, int] = field(default_factory=dict)


def _json(status: int, value: object, *headers: tuple[str, str]) -> Reply:
    return status, json.dumps(value).encode(), list(headers)


async def _handle(
    state: State, method: str, target: str, headers: dict[str, str], body: bytes
) -> Reply:
    path, _, query = target.partition("?")
    fault = state.fault
    if path == "/items" and method == "GET":
        params = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
        if fault == "literal-value" and params.get("sort") == "price":
            return _json(500, {"error": "query planner: no index for ORDER BY price"})
        return _json(200, {"items": [1, 2, 3], "sort": params.get("sort")})
    if path == "/docs/1":
        await asyncio.sleep(0.001)
        if method == "GET":
            return _json(200, {"version": state.version}, ("etag", f'"{state.version}"'))
        if method == "PUT":
            expected = headers.get("if-match", "").strip('"')
            if fault == "if-match" and expected != str(state.version):
                return _json(412, {"error": "precondition failed: document changed"})
            state.version += 1
            return _json(200, {"version": state.version}, ("etag", f'"{state.version}"'))
    if path == "/files" and method == "POST":
        name = str(json.loads(body or b"{}").get("name"))
        if fault == "name-race":
            if name in state.files:
                return _json(200, {"name": name, "id": state.files[name]})
            await asyncio.sleep(0.004)  # the insert goes to the database
            if name in state.files:
                return _json(500, {"error": "UNIQUE constraint failed: files.name"})
        elif name in state.files:
            return _json(200, {"name": name, "id": state.files[name]})
        state.files[name] = len(state.files) + 1
        await asyncio.sleep(0.001)
        return _json(201, {"name": name, "id": state.files[name]})
    if path.startswith("/products/") and method == "GET":
        product = path.rsplit("/", 1)[1]
        await asyncio.sleep(0.04 if fault == "slow-id" and product == SLOW_ID else 0.001)
        return _json(200, {"id": product})
    if path == "/upload" and method == "POST":
        if fault == "big-body" and len(body) > BODY_LIMIT:
            return _json(500, {"error": "internal error: buffer overflow"})
        return _json(201, {"bytes": len(body)})
    return _json(404, {"error": "not found"})


async def _serve_connection(
    state: State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
            status, payload, extra = await _handle(state, method, target, headers, body)
            more = "".join(f"{name}: {value}\r\n" for name, value in extra)
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{more}"
                f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _main(conn: Connection, fault: str | None) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    state = State(fault=fault)

    async def serve() -> None:
        server = await asyncio.start_server(lambda r, w: _serve_connection(state, r, w), sock=sock)
        conn.send(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(None))
        await stop
        server.close()

    asyncio.run(serve())


class FaultyService:
    """`with FaultyService("if-match") as url:` (None: every fault off); stops at exit."""

    def __init__(self, fault: str | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self.fault = fault
        self.url = ""

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_main, args=(child, self.fault), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(20):
            raise RuntimeError("faulty service did not start")
        self.url = f"http://127.0.0.1:{self._conn.recv()}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
