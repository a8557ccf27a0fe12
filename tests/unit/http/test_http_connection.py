"""Response assembly by Connection, fed bytes through a fake transport."""

from __future__ import annotations

import pytest
from http_fakes import REQUEST, exchange, fake_connection, send

from loadlens.http import TransportError
from loadlens.http.connection import ConnectionState
from loadlens.model.outcome import ErrorKind


def test_content_length_response() -> None:
    with fake_connection() as (conn, transport):
        raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        response = exchange(conn, [raw])
        assert transport.written == [REQUEST]
        assert response.status == 200
        assert response.headers == [(b"content-type", b"text/plain"), (b"content-length", b"5")]
        assert response.body == b"hello"
        assert response.header("Content-TYPE") == "text/plain"
        assert response.header("x-missing") is None
        assert (response.bytes_sent, response.bytes_received) == (len(REQUEST), len(raw))
        assert conn.state is ConnectionState.IDLE
        assert not transport.closed


def test_chunked_response_drops_trailers() -> None:
    with fake_connection() as (conn, _):
        raw = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
            b"3\r\nabc\r\n1;ext=1\r\nd\r\n0\r\nX-Sum: 9\r\n\r\n"
        )
        response = exchange(conn, [raw])
        assert response.body == b"abcd"
        assert response.headers == [(b"transfer-encoding", b"chunked"), (b"trailer", b"X-Sum")]
        assert conn.state is ConnectionState.IDLE


def test_close_delimited_body_ends_at_eof() -> None:
    with fake_connection() as (conn, _):
        response = exchange(conn, [b"HTTP/1.1 200 OK\r\n\r\npart one, ", b"part two"], eof=True)
        assert response.body == b"part one, part two"
        assert conn.state is ConnectionState.CLOSED


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    with fake_connection() as (conn, _):
        response = exchange(conn, [b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status])
        assert (response.status, response.body) == (status, b"")
        assert conn.state is ConnectionState.IDLE


def test_head_response_has_no_body_and_the_next_response_parses() -> None:
    with fake_connection() as (conn, _):
        head = exchange(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"], head=True)
        assert (head.status, head.body, head.header("content-length")) == (200, b"", "1000")
        assert conn.state is ConnectionState.IDLE
        after = exchange(conn, [b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"])
        assert (after.status, after.body) == (201, b"ok")


def test_head_response_with_zero_length_completes_once() -> None:
    with fake_connection() as (conn, _):
        response = exchange(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], head=True)
        assert response.status == 200
        assert conn.state is ConnectionState.IDLE


def test_interim_100_continue_is_skipped() -> None:
    with fake_connection() as (conn, _):
        raw = (
            b"HTTP/1.1 100 Continue\r\nX-I: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
        )
        response = exchange(conn, [raw])
        assert (response.status, response.headers, response.body) == (
            200,
            [(b"content-length", b"1")],
            b"x",
        )


def test_keep_alive_responses_share_the_parser() -> None:
    with fake_connection() as (conn, transport):
        for i in range(3):
            body = b"n%d" % i
            response = exchange(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + body])
            assert response.body == body
        assert transport.written == [REQUEST] * 3


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
    ],
)
def test_responses_that_end_the_connection_close_it(raw: bytes) -> None:
    with fake_connection() as (conn, transport):
        assert exchange(conn, [raw]).body == b"x"
        assert conn.state is ConnectionState.CLOSED
        assert transport.closed


def test_invalid_response_is_a_protocol_error() -> None:
    with fake_connection() as (conn, transport):
        future = send(conn)
        conn.data_received(b"HTTP/1.1 abc\r\n\r\n")
        error = future.exception()
        assert isinstance(error, TransportError)
        assert error.kind is ErrorKind.PROTOCOL
        assert transport.aborted
        assert conn.state is ConnectionState.CLOSED


def test_eof_mid_body_is_closed() -> None:
    with fake_connection() as (conn, _):
        future = send(conn)
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        conn.eof_received()
        conn.connection_lost(None)
        error = future.exception()
        assert isinstance(error, TransportError)
        assert error.kind is ErrorKind.CLOSED
        assert error.timings is not None
        assert error.timings.first_byte_ns > 0


def test_reset_is_reset() -> None:
    with fake_connection() as (conn, _):
        future = send(conn)
        conn.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        error = future.exception()
        assert isinstance(error, TransportError)
        assert error.kind is ErrorKind.RESET
        assert conn.received_nothing


def test_bytes_without_a_request_break_the_connection() -> None:
    with fake_connection() as (conn, transport):
        exchange(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"])
        assert conn.state is ConnectionState.CLOSED
        assert transport.aborted


def test_unexpected_upgrade_is_a_protocol_error() -> None:
    with fake_connection() as (conn, _):
        future = send(conn)
        conn.data_received(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
        error = future.exception()
        assert isinstance(error, TransportError)
        assert error.kind is ErrorKind.PROTOCOL
