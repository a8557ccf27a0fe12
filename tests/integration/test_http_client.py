"""HttpClient against a raw HTTP responder on 127.0.0.1, on asyncio and on uvloop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
import uvloop

from loadlens.http import (
    ClientOptions,
    HttpClient,
    Origin,
    Response,
    ResponseWaiter,
    TransportError,
    encode_request,
)
from loadlens.model.outcome import ErrorKind

# An app gets the request head and the stream; it returns False to close the connection.
App = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
Runner = Callable[[Coroutine[Any, Any, None]], None]

RUNNERS = [pytest.param(asyncio.run, id="asyncio"), pytest.param(uvloop.run, id="uvloop")]


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class RawServer:
    """A tiny HTTP/1.1 responder; counts connections, open now and at most at once."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.accepted = 0
        self.active = 0
        self.most_active = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def origin(self) -> Origin:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return Origin("http", "127.0.0.1", port)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.accepted += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                if not await self.app(head, reader, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.active -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def get(origin: Origin, path: bytes = b"/") -> bytes:
    return encode_request(b"GET", path, origin.host_header, [], None)


async def answer_ok(
    head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    writer.write(ok(head.split(b" ", 2)[1]))
    return True


@pytest.mark.parametrize("run", RUNNERS)
def test_keep_alive_reuses_one_connection(run: Runner) -> None:
    async def main() -> None:
        async with RawServer(answer_ok) as server:
            client = HttpClient()
            try:
                responses = [
                    await client.request(server.origin, get(server.origin, b"/%d" % i))
                    for i in range(5)
                ]
                assert [r.body for r in responses] == [b"/%d" % i for i in range(5)]
                assert [r.timings.reused for r in responses] == [False, True, True, True, True]
                assert client.open_connections == 1
                assert server.accepted == 1
                first, second = responses[0].timings, responses[1].timings
                assert (
                    first.start_ns
                    < first.connected_ns
                    <= first.sent_ns
                    <= first.first_byte_ns
                    <= first.end_ns
                )
                assert second.connected_ns == second.start_ns
            finally:
                await client.close()
            assert client.open_connections == 0

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_chunked_response(run: Runner) -> None:
    async def app(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"hello", b", ", b"world"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        return True

    async def main() -> None:
        async with RawServer(app) as server:
            client = HttpClient()
            try:
                response = await client.request(server.origin, get(server.origin))
                again = await client.request(server.origin, get(server.origin))
            finally:
                await client.close()
        assert (response.status, response.body) == (200, b"hello, world")
        assert response.header("x-trailer") is None
        assert again.timings.reused

    run(main())


def closed_origin() -> Origin:
    """An origin on 127.0.0.1 where nothing listens (a port bound once, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Origin("http", "127.0.0.1", port)


@pytest.mark.parametrize("run", RUNNERS)
def test_connection_refused(run: Runner) -> None:
    origin = closed_origin()

    async def main() -> None:
        client = HttpClient()
        try:
            with pytest.raises(TransportError) as caught:
                await client.request(origin, get(origin))
        finally:
            await client.close()
        assert caught.value.kind is ErrorKind.CONNECT_REFUSED
        assert caught.value.timings is not None
        assert client.open_connections == 0

    run(main())


async def never_answer(
    head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    await reader.read()  # until the client gives up and closes
    return False


@pytest.mark.parametrize("run", RUNNERS)
def test_read_timeout(run: Runner) -> None:
    async def main() -> None:
        async with RawServer(never_answer) as server:
            client = HttpClient(ClientOptions(read_timeout=0.2))
            began = time.monotonic()
            try:
                with pytest.raises(TransportError) as caught:
                    await client.request(server.origin, get(server.origin))
            finally:
                await client.close()
            elapsed = time.monotonic() - began
        assert caught.value.kind is ErrorKind.READ_TIMEOUT
        assert 0.19 <= elapsed < 1.5

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_read_timeout_bounds_gaps_not_the_whole_response(run: Runner) -> None:
    async def trickle(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        for byte in b"slow":
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
        return True

    async def main() -> None:
        async with RawServer(trickle) as server:
            client = HttpClient(ClientOptions(read_timeout=0.3))
            try:
                response = await client.request(server.origin, get(server.origin))
            finally:
                await client.close()
        assert response.body == b"slow"
        assert response.timings.end_ns - response.timings.first_byte_ns >= 0.3e9

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_total_timeout(run: Runner) -> None:
    async def main() -> None:
        async with RawServer(never_answer) as server:
            client = HttpClient()
            began = time.monotonic()
            try:
                with pytest.raises(TransportError) as caught:
                    await client.request(
                        server.origin, get(server.origin), timeouts=(None, 5.0, 0.2)
                    )
            finally:
                await client.close()
            elapsed = time.monotonic() - began
        assert caught.value.kind is ErrorKind.TOTAL_TIMEOUT
        assert 0.19 <= elapsed < 1.5

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_server_closing_mid_body(run: Runner) -> None:
    async def cut(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        return False

    async def main() -> None:
        async with RawServer(cut) as server:
            client = HttpClient()
            try:
                with pytest.raises(TransportError) as caught:
                    await client.request(server.origin, get(server.origin))
            finally:
                await client.close()
        assert caught.value.kind in (ErrorKind.CLOSED, ErrorKind.RESET)
        assert server.accepted == 1  # a connection that answered something is not retried

    run(main())


def one_answer_per_connection() -> App:
    """An app that answers the first request on each connection, then closes the connection
    when the next request arrives, as a server does whose idle timeout fires just then."""
    seen: set[object] = set()

    async def app(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        peer = writer.get_extra_info("peername")
        if peer in seen:
            return False
        seen.add(peer)
        writer.write(ok(b"fresh"))
        return True

    return app


@pytest.mark.parametrize("run", RUNNERS)
def test_stale_keep_alive_connection_is_retried_once(run: Runner) -> None:
    server = RawServer(one_answer_per_connection())

    async def main() -> None:
        async with server:
            client = HttpClient()
            try:
                first = await client.request(server.origin, get(server.origin))
                second = await client.request(server.origin, get(server.origin))
            finally:
                await client.close()
        assert (first.body, second.body) == (b"fresh", b"fresh")
        assert not second.timings.reused
        assert server.accepted == 2
        assert server.requests == 3  # the lost request, then its one retry

    run(main())


def post(origin: Origin, body: bytes) -> bytes:
    return encode_request(b"POST", b"/orders", origin.host_header, [], body)


@pytest.mark.parametrize("run", RUNNERS)
def test_a_post_on_a_stale_keep_alive_connection_is_not_resent(run: Runner) -> None:
    server = RawServer(one_answer_per_connection())

    async def main() -> None:
        async with server:
            client = HttpClient()
            try:
                first = await client.request(server.origin, post(server.origin, b"one"))
                with pytest.raises(TransportError) as caught:
                    await client.request(server.origin, post(server.origin, b"two"))
                third, fourth = Recording(), Recording()  # the same by callbacks
                client.request_to(third, server.origin, post(server.origin, b"3"), False, None)
                await third.done
                client.request_to(fourth, server.origin, post(server.origin, b"4"), False, None)
                await fourth.done
            finally:
                await client.close()
        assert first.body == b"fresh"
        assert caught.value.kind in (ErrorKind.CLOSED, ErrorKind.RESET)
        assert third.response is not None  # on a new connection
        assert fourth.error is not None
        assert fourth.error.kind in (ErrorKind.CLOSED, ErrorKind.RESET)
        # Each POST reached the server once: those it read before closing were not resent.
        assert (server.accepted, server.requests) == (2, 4)

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_fresh_connection_closed_without_answer_is_not_retried(run: Runner) -> None:
    async def hang_up(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        return False

    async def main() -> None:
        async with RawServer(hang_up) as server:
            client = HttpClient()
            try:
                with pytest.raises(TransportError) as caught:
                    await client.request(server.origin, get(server.origin))
            finally:
                await client.close()
        assert caught.value.kind in (ErrorKind.CLOSED, ErrorKind.RESET)
        assert server.requests == 1

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_connection_close_is_not_reused(run: Runner) -> None:
    async def closing(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(ok(b"bye", b"Connection: close\r\n"))
        return False

    async def main() -> None:
        async with RawServer(closing) as server:
            client = HttpClient()
            try:
                for _ in range(3):
                    response = await client.request(server.origin, get(server.origin))
                    assert (response.body, response.timings.reused) == (b"bye", False)
            finally:
                await client.close()
        assert server.accepted == 3

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_bounded_pool_queues_requests(run: Runner) -> None:
    # Each answer waits until the server holds as many requests as the pool allows, so the
    # two connections are busy at once; a third connection would show in most_active.
    both_busy = asyncio.Event()

    async def paired(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if server.active >= 2:
            both_busy.set()
        await both_busy.wait()
        writer.write(ok())
        return True

    server = RawServer(paired)

    async def main() -> None:
        async with server:
            client = HttpClient(ClientOptions(max_connections_per_origin=2))
            seen_open: list[int] = []

            async def one() -> int:
                response = await client.request(server.origin, get(server.origin))
                seen_open.append(client.open_connections)
                return response.status

            try:
                statuses = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(10))), 10)
            finally:
                await client.close()
        assert statuses == [200] * 10
        assert server.accepted == 2
        assert server.most_active == 2
        assert max(seen_open) <= 2

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_cancelled_request_frees_its_slot(run: Runner) -> None:
    async def main() -> None:
        async with RawServer(never_answer) as server:
            client = HttpClient(ClientOptions(max_connections_per_origin=1))
            try:
                hung = asyncio.ensure_future(client.request(server.origin, get(server.origin)))
                queued = asyncio.ensure_future(
                    client.request(server.origin, get(server.origin), timeouts=(None, 0.2, None))
                )
                while (
                    server.requests < 1
                ):  # bounded: the server sees the request within a few turns
                    await asyncio.sleep(0.01)
                hung.cancel()
                with pytest.raises(TransportError) as caught:
                    await queued
            finally:
                await client.close()
        assert hung.cancelled()
        # The queued request got the slot, opened its own connection, and timed out reading.
        assert caught.value.kind is ErrorKind.READ_TIMEOUT
        assert server.accepted == 2

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_a_cancelled_request_on_an_unbounded_pool_leaves_its_connection_reusable(
    run: Runner,
) -> None:
    async def slow(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.1 if b"/slow" in head else 0)
        writer.write(ok(head.split(b" ", 2)[1]))
        return True

    async def main() -> None:
        async with RawServer(slow) as server:
            client = HttpClient()
            try:
                await client.request(server.origin, get(server.origin))  # a pooled connection
                waiting = asyncio.ensure_future(
                    client.request(server.origin, get(server.origin, b"/slow"))
                )
                await asyncio.sleep(0.02)
                waiting.cancel()
                await asyncio.sleep(0.2)  # the slow response arrives, unawaited
                after = await client.request(server.origin, get(server.origin, b"/after"))
            finally:
                await client.close()
        assert waiting.cancelled()
        assert after.body == b"/after"
        # The cancelled exchange ended by itself and its connection went back to the pool.
        assert server.accepted == 1
        assert server.requests == 3

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_head_and_no_content(run: Runner) -> None:
    async def app(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if head.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        return True

    async def main() -> None:
        async with RawServer(app) as server:
            host = server.origin.host_header
            client = HttpClient()
            try:
                head = encode_request(b"HEAD", b"/", host, [], None)
                first = await client.request(server.origin, head, head=True)
                second = await client.request(server.origin, get(server.origin))
                third = await client.request(server.origin, head, head=True)
            finally:
                await client.close()
        assert [(r.status, r.body) for r in (first, second, third)] == [
            (200, b""),
            (204, b""),
            (200, b""),
        ]
        assert server.accepted == 1

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_closed_client_refuses_requests(run: Runner) -> None:
    async def main() -> None:
        client = HttpClient()
        await client.close()
        origin = Origin("http", "127.0.0.1", 9)
        with pytest.raises(TransportError) as caught:
            await client.request(origin, get(origin))
        assert caught.value.kind is ErrorKind.CLOSED

    run(main())


class Recording(ResponseWaiter):
    """A waiter that keeps what it is told, and a Future to wait on it."""

    __slots__ = ("done", "error", "response")

    def __init__(self) -> None:
        self.response: Response | None = None
        self.error: TransportError | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_response(self, response: Response) -> None:
        self.response = response
        self.done.set_result(None)

    def on_error(self, error: TransportError) -> None:
        self.error = error
        self.done.set_result(None)


@pytest.mark.parametrize("run", RUNNERS)
def test_request_to_calls_the_waiter_back_later_on_new_and_reused_connections(
    run: Runner,
) -> None:
    async def main() -> None:
        async with RawServer(answer_ok) as server:
            client = HttpClient()
            try:
                bodies = []
                for path in (b"/one", b"/two"):
                    waiter = Recording()
                    client.request_to(waiter, server.origin, get(server.origin, path), False, None)
                    assert not waiter.done.done()  # never from inside request_to
                    await waiter.done
                    assert waiter.response is not None
                    bodies.append((waiter.response.body, waiter.response.timings.reused))
            finally:
                await client.close()
        assert bodies == [(b"/one", False), (b"/two", True)]
        assert server.accepted == 1

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_request_to_reports_a_refused_connection_to_the_waiter(run: Runner) -> None:
    origin = closed_origin()

    async def main() -> None:
        client = HttpClient()
        try:
            waiter = Recording()
            client.request_to(waiter, origin, get(origin), False, None)
            await waiter.done
        finally:
            await client.close()
        assert waiter.response is None
        assert waiter.error is not None
        assert waiter.error.kind is ErrorKind.CONNECT_REFUSED

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_request_to_resends_once_after_a_stale_keep_alive_socket(run: Runner) -> None:
    async def main() -> None:
        async with RawServer(one_answer_per_connection()) as server:
            client = HttpClient()
            try:
                first, second = Recording(), Recording()
                client.request_to(first, server.origin, get(server.origin), False, None)
                await first.done
                client.request_to(second, server.origin, get(server.origin), False, None)
                await second.done
            finally:
                await client.close()
            assert second.response is not None, second.error
            assert second.response.body == b"fresh"
            assert not second.response.timings.reused
            assert (server.accepted, server.requests) == (2, 3)

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_warm_opens_idle_connections_that_requests_then_use(run: Runner) -> None:
    async def main() -> None:
        async with RawServer(answer_ok) as server:
            client = HttpClient()
            try:
                opened = await client.warm(server.origin, 3)
                assert (opened, client.open_connections) == (3, 3)
                responses = await asyncio.gather(
                    *(client.request(server.origin, get(server.origin)) for _ in range(3))
                )
            finally:
                await client.close()
        assert all(r.timings.reused for r in responses)
        assert server.accepted == 3  # no new connection for the three requests

    run(main())


@pytest.mark.parametrize("run", RUNNERS)
def test_warm_reports_nothing_when_no_connection_opens(run: Runner) -> None:
    origin = closed_origin()

    async def main() -> None:
        client = HttpClient()
        try:
            assert await client.warm(origin, 2) == 0
            assert client.open_connections == 0
        finally:
            await client.close()

    run(main())
