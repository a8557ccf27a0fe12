"""A Connection driven by hand: a fake transport, a loop that never runs, bytes fed in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from loadlens.http import Response
from loadlens.http.connection import Connection

REQUEST = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
FAR_NS = 10**15  # read and total budgets that never run out in these tests
FAR_BODY = 1 << 40  # a body limit no test response reaches


class FakeTransport(asyncio.Transport):
    """Records writes and closes; delivers nothing by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True


@contextmanager
def fake_connection() -> Iterator[tuple[Connection, FakeTransport]]:
    """A connected Connection on a loop that is closed afterwards."""
    loop = asyncio.new_event_loop()
    try:
        conn = Connection(loop, "http://test")
        transport = FakeTransport()
        conn.connection_made(transport)
        yield conn, transport
    finally:
        loop.close()


def send(
    conn: Connection, *, head: bool = False, max_body: int = FAR_BODY
) -> asyncio.Future[Response]:
    return conn.send(REQUEST, 1, 1, False, head, FAR_NS, FAR_NS, max_body)


def exchange(
    conn: Connection,
    chunks: Iterable[bytes],
    *,
    head: bool = False,
    eof: bool = False,
    max_body: int = FAR_BODY,
) -> Response:
    """Send a request, feed the response in `chunks`, and return what the Future got."""
    future = send(conn, head=head, max_body=max_body)
    for chunk in chunks:
        conn.data_received(chunk)
    if eof:
        conn.eof_received()
        conn.connection_lost(None)
    assert future.done(), "the response did not complete"
    return future.result()
