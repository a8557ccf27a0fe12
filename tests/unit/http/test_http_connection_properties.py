"""Property: however the bytes of a response are split, the same response comes out."""

from __future__ import annotations

from dataclasses import dataclass

from http_fakes import exchange, fake_connection
from hypothesis import given
from hypothesis import strategies as st

from loadlens.http.connection import ConnectionState

TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1)
VALUE = st.text("abcdefghijklmnopqrstuvwxyz0123456789 -_/;=,.", max_size=30).map(str.strip)
FRAMING_NAMES = {"content-length", "transfer-encoding", "connection", "trailer"}


@dataclass(frozen=True)
class Case:
    status: int
    headers: list[tuple[bytes, bytes]]  # as sent; the framing header is last
    body: bytes
    framing: str
    raw: bytes


@st.composite
def responses(draw: st.DrawFn) -> Case:
    status = draw(st.integers(200, 599).filter(lambda s: s not in (204, 304)))
    reason = draw(st.text("abcdefghijklmnopqrstuvwxyz ", max_size=12)).strip().encode()
    names = draw(st.lists(TOKEN.filter(lambda n: n.lower() not in FRAMING_NAMES), max_size=6))
    headers = [(name.encode(), draw(VALUE).encode()) for name in names]
    body = draw(st.binary(max_size=3000))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    payload = body
    if framing == "length":
        headers.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p)
        trailer = b"X-Trailer: t\r\n" if draw(st.booleans()) else b""
        payload += b"0\r\n" + trailer + b"\r\n"
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" if draw(st.booleans()) else b""
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    raw = interim + b"HTTP/1.1 %d %s\r\n" % (status, reason) + head + b"\r\n" + payload
    return Case(status, headers, body, framing, raw)


@st.composite
def splits(draw: st.DrawFn, raw: bytes) -> list[bytes]:
    if draw(st.booleans()):
        size = draw(st.integers(1, 7))
        return [raw[i : i + size] for i in range(0, len(raw), size)]
    cuts = sorted(set(draw(st.lists(st.integers(0, len(raw)), max_size=20))))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


@given(st.data())
def test_any_split_yields_the_same_response(data: st.DataObject) -> None:
    case = data.draw(responses())
    chunks = data.draw(splits(case.raw))
    assert b"".join(chunks) == case.raw
    with fake_connection() as (conn, _):
        close = case.framing == "close"
        response = exchange(conn, [c for c in chunks if c], eof=close)
        assert response.status == case.status
        assert response.headers == [(name.lower(), value) for name, value in case.headers]
        assert response.body == case.body
        assert response.bytes_received == len(case.raw)
        if close:
            assert conn.state is ConnectionState.CLOSED
        else:
            # The same parser goes on to read the next response on the connection.
            assert conn.state is ConnectionState.IDLE
            follow = exchange(conn, [b"HTTP/1.1 202 A\r\nContent-Length: 3\r\n\r\n", b"end"])
            assert (follow.status, follow.body) == (202, b"end")
