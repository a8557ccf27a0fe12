"""Small HTTP/1.1 servers with one known fault each, for the diagnosis tests (not the demo).

Each runs in its own process on 127.0.0.1:0 and answers every path alike, with keep-alive and
Content-Length bodies. `fault=False` is the same server without its fault (the clean run).

- `slow-mode`: every 20th request (5 %) takes SLOW_S, the rest answer at once: a slow mode at
  about 100× the median, at any load.
- `plateau`: each request holds one lock for SERVICE_S (capacity 1/SERVICE_S per second);
  clean, the requests wait concurrently (no capacity limit at these rates).
- `nagle`: TCP_NODELAY off and each response written in two segments (headers, then body),
  the classic Nagle / delayed-ACK stall on kept-alive connections; clean, TCP_NODELAY on and
  one write.
- `worker-pool`: a fixed pool of POOL_WORKERS workers, each busy POOL_SERVICE_S per request
  (capacity POOL_WORKERS/POOL_SERVICE_S per second); a request waits for a free worker, so past
  capacity requests queue; clean, a pool of CLEAN_POOL_WORKERS (no limit at these rates).
- `shedding`: one lock held SHED_SERVICE_S per request, and a request that finds
  SHED_LIMIT in the service gets 503 + Retry-After at once (load shedding at capacity); clean,
  no lock and no limit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from multiprocessing.connection import Connection

SLOW_S = 0.1
SLOW_EVERY = 20
SERVICE_S = 0.02
POOL_WORKERS = 4
POOL_SERVICE_S = 0.02  # 4 workers × 50/s: 200 requests per second
CLEAN_POOL_WORKERS = 64
SHED_SERVICE_S = 0.005
SHED_LIMIT = 8
_BODY = b'{"ok": true}'


class _State:
    def __init__(self, mode: str, fault: bool) -> None:
        self.mode = mode
        self.fault = fault
        self.served = 0
        self.in_service = 0
        self.lock = asyncio.Lock()
        self.pool = asyncio.Semaphore(POOL_WORKERS if fault else CLEAN_POOL_WORKERS)


async def _answer(state: _State) -> tuple[int, bytes]:
    state.served += 1
    if state.mode == "slow-mode":
        if state.fault and state.served % SLOW_EVERY == 0:
            await asyncio.sleep(SLOW_S)
        return 200, b""
    if state.mode == "plateau":
        if state.fault:
            async with state.lock:
                await asyncio.sleep(SERVICE_S)
        else:
            await asyncio.sleep(SERVICE_S)
        return 200, b""
    if state.mode == "worker-pool":
        async with state.pool:
            await asyncio.sleep(POOL_SERVICE_S)
        return 200, b""
    if state.mode == "shedding":
        if not state.fault:
            await asyncio.sleep(SHED_SERVICE_S)
            return 200, b""
        if state.in_service >= SHED_LIMIT:
            return 503, b"retry-after: 1\r\n"
        state.in_service += 1
        try:
            async with state.lock:
                await asyncio.sleep(SHED_SERVICE_S)
        finally:
            state.in_service -= 1
        return 200, b""
    return 200, b""


async def _serve_connection(
    state: _State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    two_segments = state.mode == "nagle" and state.fault
    if two_segments:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            status, extra = await _answer(state)
            headers = (
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(_BODY)}\r\n".encode()
                + extra
                + b"\r\n"
            )
            if two_segments:
                writer.write(headers)  # a send of its own: Nagle holds the body back
                await writer.drain()
                writer.write(_BODY)
            else:
                writer.write(headers + _BODY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _main(conn: Connection, mode: str, fault: bool) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)

    async def serve() -> None:
        state = _State(mode, fault)
        server = await asyncio.start_server(lambda r, w: _serve_connection(state, r, w), sock=sock)
        conn.send(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(None))
        await stop
        server.close()

    asyncio.run(serve())


class FaultServer:
    """`with FaultServer("nagle", fault=True) as url:`; stops by itself at exit."""

    def __init__(self, mode: str, *, fault: bool) -> None:
        self.mode = mode
        self.fault = fault
        self.url = ""

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_main, args=(child, self.mode, self.fault), daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(20):
            raise RuntimeError("fault server did not start")
        self.url = f"http://127.0.0.1:{self._conn.recv()}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
