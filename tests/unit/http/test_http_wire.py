"""encode_request, byte for byte."""

from __future__ import annotations

import pytest

from loadlens.http import encode_request


def test_get_without_body_has_no_content_length() -> None:
    data = encode_request(b"GET", b"/x?a=1", b"127.0.0.1:8000", [(b"Accept", b"*/*")], None)
    assert data == b"GET /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n\r\n"


def test_body_gets_content_length_after_the_headers() -> None:
    data = encode_request(
        b"POST", b"/items", b"example.com", [(b"Content-Type", b"application/json")], b'{"a":1}'
    )
    assert data == (
        b"POST /items HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\n"
        b'Content-Length: 7\r\n\r\n{"a":1}'
    )


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"PATCH"])
def test_body_methods_without_body_say_content_length_zero(method: bytes) -> None:
    data = encode_request(method, b"/", b"h", [], None)
    assert data == method + b" / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"


def test_empty_body_on_get_says_content_length_zero() -> None:
    assert encode_request(b"GET", b"/", b"h", [], b"") == (
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
    )


def test_headers_the_caller_gave_are_not_duplicated() -> None:
    data = encode_request(
        b"POST", b"/", b"h", [(b"content-length", b"3"), (b"HOST", b"other:1")], b"abc"
    )
    assert data == b"POST / HTTP/1.1\r\ncontent-length: 3\r\nHOST: other:1\r\n\r\nabc"


def test_transfer_encoding_from_the_caller_suppresses_content_length() -> None:
    body = b"3\r\nabc\r\n0\r\n\r\n"
    data = encode_request(b"POST", b"/", b"h", [(b"Transfer-Encoding", b"chunked")], body)
    assert data == b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def test_repeated_headers_keep_their_order() -> None:
    data = encode_request(b"GET", b"/", b"h", [(b"X-A", b"1"), (b"X-A", b"2 3")], None)
    assert data == b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2 3\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [
        (b"GET", b"/a b", [], "target may not be empty or contain spaces"),
        (b"GET", b"/\r\n", [], "target may not contain CR or LF"),
        (b"", b"/", [], "method may not be empty"),
        (b"GET", b"/", [(b"X-A", b"1\r\nEvil: 1")], "header value may not contain CR or LF"),
        (b"GET", b"/", [(b"X A", b"1")], "header name may not be empty or contain spaces"),
        (b"GET", b"/", [(b"X:A", b"1")], "invalid header name"),
    ],
)
def test_fields_that_would_break_framing_are_refused(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_request(method, target, b"h", headers, None)
