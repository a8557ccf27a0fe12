"""A test server with known answers, in its own process on 127.0.0.1:0.

`GET /slow` answers 200 after exactly DELAY_S (an asyncio sleep: the server is idle meanwhile,
so many requests wait at once); `GET /fail` answers 500 at once; anything else 404. Used by the
verdict tests, which need a latency they know in advance and a service that fails on purpose.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from multiprocessing.connection import Connection

DELAY_S = 0.1


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].split(b"?", 1)[0]
            if path == b"/slow":
                await asyncio.sleep(DELAY_S)
                status, body = 200, b'{"ok":true}'
            elif path == b"/fail":
                status, body = 500, b'{"error":"broken on purpose"}'
            else:
                status, body = 404, b'{"error":"not found"}'
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n".encode()
                + body
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
    sock.listen(1024)

    async def serve() -> None:
        server = await asyncio.start_server(_serve, sock=sock)
        conn.send(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(None))
        await stop
        server.close()

    asyncio.run(serve())


class FixedServer:
    """`with FixedServer() as url:`; stops by itself at exit."""

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_main, args=(child,), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(20):
            raise RuntimeError("test server did not start")
        return f"http://127.0.0.1:{self._conn.recv()}"

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
