"""Compressed response bodies (`Content-Encoding: gzip` or `deflate`), decoded on demand.

How it works: the client keeps a body as it came on the wire; the engine asks `content_coding`
(after one cheap search of the raw head) only for a response whose body a check or capture reads,
and `decode_body` inflates it then, never more than `limit` bytes out, so a small compressed
body that expands enormously (a zip bomb) stays bounded like any other body. A stream that does
not inflate raises DecodeError, which the engine records as the `error:decode` outcome.

Only gzip and deflate are asked for (`ACCEPT_ENCODING`): both are in the standard library.
Brotli and zstd would each need another compiled dependency; a service that sends them anyway
gets a DecodeError naming the coding.
"""

from __future__ import annotations

import zlib
from typing import Final

from loadlens.http.response import Response

ACCEPT_ENCODING: Final = b"gzip, deflate"
# zlib's window bits: 16 + MAX_WBITS reads a gzip wrapper, MAX_WBITS a zlib one, and a
# negative value a raw deflate stream (which some servers send for `deflate`).
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class DecodeError(Exception):
    """A body whose `Content-Encoding` it does not follow (or one this client cannot read)."""


def content_coding(response: Response) -> str | None:
    """The response's content coding, lower-cased (`gzip`), or None for an identity body."""
    value = response.header("content-encoding")
    if value is None:
        return None
    coding = value.strip().lower()
    return None if coding in ("", "identity") else coding


def decode_body(body: bytes, coding: str, limit: int, complete: bool = True) -> bytes:
    """`body` inflated, cut at `limit` bytes; raises DecodeError. `complete` False: the body was
    cut on the wire (past `max_body`), so an unfinished stream is not an error."""
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP_WBITS, limit, complete, coding)
    if coding == "deflate":
        try:
            return _inflate(body, zlib.MAX_WBITS, limit, complete, coding)
        except DecodeError:
            return _inflate(body, -zlib.MAX_WBITS, limit, complete, coding)
    raise DecodeError(f"unsupported content coding `{coding}` (gzip and deflate are read)")


def _inflate(body: bytes, wbits: int, limit: int, complete: bool, coding: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit)
    except zlib.error as error:
        raise DecodeError(f"the {coding} body does not decode: {error}") from None
    if len(out) >= limit or not complete:
        return out[:limit]  # bounded: what was left is dropped, as past `max_body` on the wire
    if not inflater.eof:
        raise DecodeError(f"the {coding} body ends before its stream does")
    return out
