"""Limits a hostile server cannot push past: the body kept, the head's size, stale resends."""

from __future__ import annotations

from http_fakes import FAR_NS, exchange, fake_connection, send

from loadlens.http import TransportError
from loadlens.http.connection import MAX_HEAD_BYTES, ConnectionState, Unsent
from loadlens.model.outcome import ErrorKind


def test_a_body_within_max_body_is_kept_whole() -> None:
    with fake_connection() as (conn, _):
        raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        response = exchange(conn, [raw], max_body=5)
        assert (response.body, response.truncated) == (b"hello", False)


def test_a_body_past_max_body_keeps_its_prefix_and_counts_every_byte() -> None:
    with fake_connection() as (conn, _):
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"
        chunks = [head + b"0123456789", b"abcdefghij", b"ABCDEFGHIJ"]
        response = exchange(conn, chunks, max_body=14)
        assert (response.body, response.truncated) == (b"0123456789abcd", True)
        assert response.bytes_received == len(head) + 30
        assert conn.state is ConnectionState.IDLE  # framing intact: the connection is reused
        after = exchange(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], max_body=14)
        assert (after.body, after.truncated) == (b"ok", False)


def test_a_chunked_body_past_max_body_is_dropped_as_it_streams() -> None:
    with fake_connection() as (conn, _):
        future = send(conn, max_body=1000)
        conn.data_received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (4096, b"x" * 4096)
        for _ in range(256):  # 1 MiB of an endless body
            conn.data_received(chunk)
        assert not future.done()
        kept = conn._body  # what the connection holds so far
        assert sum(len(part) for part in kept) == 1000
        conn.data_received(b"0\r\n\r\n")
        response = future.result()
        assert (len(response.body), response.truncated) == (1000, True)


def test_max_body_zero_keeps_no_body() -> None:
    with fake_connection() as (conn, _):
        raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        response = exchange(conn, [raw], max_body=0)
        assert (response.body, response.truncated, response.status) == (b"", True, 200)


def test_a_head_longer_than_the_limit_is_a_protocol_error() -> None:
    with fake_connection() as (conn, transport):
        future = send(conn)
        conn.data_received(b"HTTP/1.1 200 OK\r\nX-Long: ")
        for _ in range(1024):  # a 1 MiB header line, 1 KiB per read
            conn.data_received(b"a" * 1024)
            if future.done():
                break
        error = future.exception()
        assert isinstance(error, TransportError)
        assert error.kind is ErrorKind.PROTOCOL
        assert f"response head longer than {MAX_HEAD_BYTES} bytes" in error.message
        assert transport.aborted
        assert len(conn._raw) <= MAX_HEAD_BYTES + 1024  # what it held: bounded


def test_a_long_head_within_the_limit_is_accepted() -> None:
    with fake_connection() as (conn, _):
        value = b"v" * (MAX_HEAD_BYTES - 100)
        raw = b"HTTP/1.1 200 OK\r\nX-Big: " + value + b"\r\nContent-Length: 2\r\n\r\nok"
        response = exchange(conn, [raw[i : i + 1000] for i in range(0, len(raw), 1000)])
        assert response.header("x-big") == value.decode()


def _stale(method: bytes, *, written: bool = True) -> list[Unsent]:
    """What a reused connection hands to `on_stale` when it resets before any response byte."""
    resent: list[Unsent] = []
    with fake_connection() as (conn, transport):
        conn.on_stale = resent.append
        data = method + b" / HTTP/1.1\r\nHost: h\r\n\r\n"
        if not written:
            transport.close()
            conn.connection_lost(None)  # the loss seen: nothing can be written any more
        future = conn.send(data, 1, 1, True, False, FAR_NS, FAR_NS, 77)
        if written:
            conn.connection_lost(ConnectionResetError())
        else:
            conn._fail(ErrorKind.CLOSED, "cannot send")  # what the next loop turn runs
        if not resent:
            error = future.exception()
            assert isinstance(error, TransportError)
            assert error.kind is ErrorKind.RESET
    return resent


def test_idempotent_requests_are_resent_after_a_stale_connection() -> None:
    for method in (b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"):
        resent = _stale(method)
        assert len(resent) == 1, method
        assert resent[0].max_body == 77


def test_non_idempotent_requests_are_not_resent_once_written() -> None:
    for method in (b"POST", b"PATCH"):
        assert _stale(method) == [], method


def test_a_post_never_written_is_resent() -> None:
    assert len(_stale(b"POST", written=False)) == 1


def test_a_connection_the_server_closes_while_idle_is_not_handed_out() -> None:
    with fake_connection() as (conn, _):
        exchange(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
        assert conn.state is ConnectionState.IDLE
        conn.eof_received()
        assert conn.state is ConnectionState.CLOSED


def test_a_100_gib_content_length_holds_no_more_than_max_body() -> None:
    with fake_connection() as (conn, _):
        future = send(conn, max_body=4096)
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (100 * 2**30))
        for _ in range(1024):  # the first MiB of it
            conn.data_received(b"y" * 1024)
        assert not future.done()
        assert sum(len(part) for part in conn._body) == 4096
        conn.connection_lost(None)  # the run stops: the connection is dropped
        error = future.exception()
        assert isinstance(error, TransportError)
        assert error.kind is ErrorKind.CLOSED
