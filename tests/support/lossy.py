"""A test service that acknowledges every increment but applies only 99 of 100 (lost writes)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DROP_EVERY = 100  # every 100th acknowledged increment is not applied


def lossy_app(path: Path) -> Starlette:
    """`POST /counters/{id}/increment {amount}` → 200 always; every 100th is dropped."""
    sequence = itertools.count(1)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # a test service: no fsync per increment

    async def increment(request: Request) -> JSONResponse:
        number = int(request.path_params["id"])
        amount = int((await request.json())["amount"])
        if next(sequence) % DROP_EVERY != 0:
            conn.execute("UPDATE counters SET value = value + ? WHERE id = ?", (amount, number))
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/counters/{id}/increment", increment, methods=["POST"])])


@contextmanager
def lossy_service(directory: Path) -> Iterator[tuple[str, Path]]:
    """Serve the lossy app on 127.0.0.1 (port 0) over ten counters starting at 100."""
    path = directory / "counters.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
        conn.executemany("INSERT INTO counters VALUES (?, 100)", [(k,) for k in range(1, 11)])
        conn.commit()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(lossy_app(path), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", path
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
