"""Encoding a request to bytes, without I/O: the caller may encode once and send many times."""

from __future__ import annotations

from collections.abc import Sequence

# Methods whose requests carry a body by convention: without one they still say so, because
# some servers answer 411 Length Required to a POST with no Content-Length.
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})


def encode_request(
    method: bytes,
    target: bytes,
    host: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes | None,
) -> bytes:
    """The whole HTTP/1.1 request: request line, Host, headers, Content-Length, body.

    Host and Content-Length are added only when `headers` does not already hold them, and
    Content-Length only when there is a body (or the method is POST, PUT or PATCH) and no
    Transfer-Encoding was given. Raises ValueError for a field that would break the framing.
    """
    _check("target", target, space_ok=False)
    before, after = request_around_target(method, host, headers, body)
    return before + target + after


def request_around_target(
    method: bytes,
    host: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes | None,
) -> tuple[bytes, bytes]:
    """The request's bytes before and after its target, as `encode_request` would write them.

    A request whose target alone varies is then `before + target + after`, joined per request
    with nothing checked again but the target (which the caller must keep free of spaces, CR
    and LF). Raises ValueError as `encode_request` does.
    """
    _check("method", method, space_ok=False)
    _check("host", host, space_ok=False)
    given: set[bytes] = set()
    lines = [b" HTTP/1.1\r\n", b""]
    for name, value in headers:
        _check("header name", name, space_ok=False)
        if not name or b":" in name:
            raise ValueError(f"invalid header name {name!r}")
        _check("header value", value, space_ok=True)
        given.add(name.lower())
        lines.append(name + b": " + value + b"\r\n")
    if b"host" not in given:
        lines[1] = b"Host: " + host + b"\r\n"
    framed = b"content-length" in given or b"transfer-encoding" in given
    if not framed and (body is not None or method in _BODY_METHODS):
        lines.append(b"Content-Length: %d\r\n" % (len(body) if body is not None else 0))
    lines.append(b"\r\n")
    if body:
        lines.append(body)
    return method + b" ", b"".join(lines)


def _check(what: str, value: bytes, *, space_ok: bool) -> None:
    if b"\r" in value or b"\n" in value:
        raise ValueError(f"{what} may not contain CR or LF: {value!r}")
    if not space_ok and (b" " in value or not value):
        raise ValueError(f"{what} may not be empty or contain spaces: {value!r}")
