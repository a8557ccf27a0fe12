"""Compressed response bodies (`Content-Encoding`: gzip, deflate, br, zstd), decoded on demand.

How it works: the client keeps a body as it came on the wire; the engine asks `content_coding`
(after one cheap search of the raw head) only for a response whose body a check or capture reads,
and `decode_body` inflates it then, never more than `limit` bytes out, so a small compressed
body that expands enormously (a zip bomb) stays bounded like any other body. A stream that does
not inflate raises DecodeError, which the engine records as the `error:decode` outcome.

gzip and deflate come with the standard library; br and zstd are asked for (`ACCEPT_ENCODING`)
only when their libraries import (`brotli`, Google's bindings, and `zstandard`: both are
dependencies, so nearly always). Each is bounded as gzip is: brotli's decoder stops growing its
output at a limit (it may pass it by one buffer, which is cut off), zstd's stream reader gives
at most what is asked. A service that sends a coding this client cannot read gets a DecodeError
naming it.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Final

from loadlens.http.response import Response


def _optional(name: str) -> ModuleType | None:
    """The module if it imports (a library that is not installed leaves its coding out)."""
    try:
        return __import__(name)
    except ImportError:
        return None


_brotli: Final = _optional("brotli")
_zstd: Final = _optional("zstandard")

# What every request with `compression: true` asks for: the codings this process can read.
CODINGS: Final = (
    ("gzip", "deflate") + ("br",) * (_brotli is not None) + ("zstd",) * (_zstd is not None)
)
ACCEPT_ENCODING: Final = ", ".join(CODINGS).encode("ascii")
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
    if coding == "br" and _brotli is not None:
        return _unbrotli(_brotli, body, limit, complete)
    if coding == "zstd" and _zstd is not None:
        return _unzstd(_zstd, body, limit, complete)
    read = ", ".join(CODINGS)
    raise DecodeError(f"unsupported content coding `{coding}` ({read} are read)")


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


def _unbrotli(brotli: ModuleType, body: bytes, limit: int, complete: bool) -> bytes:
    decoder = brotli.Decompressor()
    try:
        out: bytes = decoder.process(body, output_buffer_limit=limit)
    except brotli.error as error:
        raise DecodeError(f"the br body does not decode: {error}") from None
    if len(out) >= limit or not complete:
        return out[:limit]
    if not decoder.is_finished():
        raise DecodeError("the br body ends before its stream does")
    return out


def _unzstd(zstd: ModuleType, body: bytes, limit: int, complete: bool) -> bytes:
    try:
        reader = zstd.ZstdDecompressor().stream_reader(body)
        parts: list[bytes] = []
        size = 0
        while size < limit:
            part: bytes = reader.read(limit - size)
            if not part:
                break
            parts.append(part)
            size += len(part)
        out = b"".join(parts)
        if size >= limit or not complete:
            return out[:limit]
        # Smaller than the limit: decoded again whole (bounded by what was just read) to learn
        # whether the frame ended, which the stream reader does not tell.
        whole = zstd.ZstdDecompressor().decompressobj()
        whole.decompress(body)
    except zstd.ZstdError as error:
        raise DecodeError(f"the zstd body does not decode: {error}") from None
    if not whole.eof:
        raise DecodeError("the zstd body ends before its stream does")
    return out
