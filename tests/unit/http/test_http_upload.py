"""A body streamed from disk after the head: chunked reads, flow control, an early answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loadlens.http import TransportError
from loadlens.http.connection import Connection
from loadlens.http.upload import CHUNK_BYTES, FilePiece, Upload, UploadError
from loadlens.model.outcome import ErrorKind
from tests.unit.http.http_fakes import FAR_BODY, FAR_NS, fake_connection

HEAD = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _upload(tmp_path: Path, size: int) -> tuple[Upload, bytes]:
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    upload = Upload.of([b"<", FilePiece(str(path), size), b">"])
    return upload, b"<" + content + b">"


def _turn(conn: Connection) -> None:
    """Let the loop run the callbacks `send` scheduled (the upload starts on the next turn)."""
    loop = conn._loop
    loop.run_until_complete(asyncio.sleep(0))


def test_upload_pieces_are_joined_and_counted(tmp_path: Path) -> None:
    upload, _ = _upload(tmp_path, 1000)
    assert upload.length == 1002
    joined = Upload.of([b"a", b"b", b"", b"c"])
    assert (joined.pieces, joined.length) == ((b"abc",), 3)


def test_a_file_is_sent_in_chunks_after_the_head_and_counted_in_bytes_sent(
    tmp_path: Path,
) -> None:
    upload, body = _upload(tmp_path, 3 * CHUNK_BYTES + 10)
    with fake_connection() as (conn, transport):
        data = HEAD % upload.length
        future = conn.send(data, 1, 1, False, False, FAR_NS, FAR_NS, FAR_BODY, upload)
        _turn(conn)
        assert transport.written[0] == data
        assert b"".join(transport.written[1:]) == body
        assert max(len(chunk) for chunk in transport.written[1:]) == CHUNK_BYTES
        conn.data_received(OK)
        response = future.result()
    assert response.bytes_sent == len(data) + len(body)


def test_writing_stops_while_the_transport_is_paused_and_goes_on_when_it_resumes(
    tmp_path: Path,
) -> None:
    upload, body = _upload(tmp_path, 5 * CHUNK_BYTES)
    with fake_connection() as (conn, transport):
        conn.send(HEAD % upload.length, 1, 1, False, False, FAR_NS, FAR_NS, FAR_BODY, upload)
        conn.pause_writing()
        _turn(conn)
        assert len(transport.written) == 1  # the head only
        conn.resume_writing()
        assert b"".join(transport.written[1:]) == body


def test_an_answer_before_the_upload_ends_stops_it_and_closes_the_connection(
    tmp_path: Path,
) -> None:
    upload, _ = _upload(tmp_path, 5 * CHUNK_BYTES)
    with fake_connection() as (conn, transport):
        future = conn.send(
            HEAD % upload.length, 1, 1, False, False, FAR_NS, FAR_NS, FAR_BODY, upload
        )
        conn.pause_writing()
        _turn(conn)
        conn.data_received(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
        assert future.result().status == 413
        conn.resume_writing()
        assert len(transport.written) == 1  # nothing more of the body
        assert transport.closed  # the server would read the rest as a request


def test_a_file_shorter_than_at_load_fails_the_request(tmp_path: Path) -> None:
    upload, _ = _upload(tmp_path, 1000)
    (tmp_path / "file.bin").write_bytes(b"short")
    with fake_connection() as (conn, _transport):
        future = conn.send(
            HEAD % upload.length, 1, 1, False, False, FAR_NS, FAR_NS, FAR_BODY, upload
        )
        _turn(conn)
        with pytest.raises(TransportError) as caught:
            future.result()
    assert caught.value.kind is ErrorKind.OTHER
    assert "shorter than when the scenario was loaded" in caught.value.message


def test_a_reader_of_a_missing_file_raises_upload_error(tmp_path: Path) -> None:
    reader = Upload.of([FilePiece(str(tmp_path / "gone"), 3)]).reader()
    with pytest.raises(UploadError, match="cannot open"):
        reader.next_chunk()


def test_one_turn_of_the_loop_writes_at_most_a_mebibyte_of_a_fast_upload(tmp_path: Path) -> None:
    upload, body = _upload(tmp_path, 40 * CHUNK_BYTES)
    with fake_connection() as (conn, transport):
        future = conn.send(
            HEAD % upload.length, 1, 1, False, False, FAR_NS, FAR_NS, FAR_BODY, upload
        )
        conn.pause_writing()
        _turn(conn)
        conn.resume_writing()  # the transport never pauses again: as fast as a server reads
        assert len(transport.written) == 1 + 16
        for _ in range(10):
            _turn(conn)
        assert b"".join(transport.written[1:]) == body
        conn.data_received(OK)
        assert future.result().bytes_sent == len(HEAD % upload.length) + len(body)
