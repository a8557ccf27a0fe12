"""Compressed bodies: gzip, deflate, br and zstd decoded, bounded by the limit, a broken one
refused."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli
import pytest
import zstandard

from loadlens.http.decoding import ACCEPT_ENCODING, DecodeError, decode_body

DOCUMENT = b'{"n": 7, "text": "' + b"x" * 500 + b'"}'


def test_gzip_and_both_forms_of_deflate_decode() -> None:
    assert decode_body(gzip.compress(DOCUMENT), "gzip", 1 << 20) == DOCUMENT
    assert decode_body(zlib.compress(DOCUMENT), "deflate", 1 << 20) == DOCUMENT
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(DOCUMENT) + raw.flush()
    assert decode_body(raw_deflate, "deflate", 1 << 20) == DOCUMENT


def test_a_bomb_stays_within_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (8 << 20))
    assert len(bomb) < 20_000
    assert decode_body(bomb, "gzip", 4096) == b"\0" * 4096


def test_a_broken_or_unfinished_stream_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="gzip body does not decode"):
        decode_body(b"this is not gzip at all", "gzip", 1 << 20)
    cut = gzip.compress(DOCUMENT)[:-20]
    with pytest.raises(DecodeError, match="ends before"):
        decode_body(cut, "gzip", 1 << 20)
    assert decode_body(cut, "gzip", 1 << 20, complete=False).startswith(b'{"n": 7')


def test_an_unknown_coding_is_named() -> None:
    with pytest.raises(DecodeError, match="unsupported content coding `compress`"):
        decode_body(b"x", "compress", 100)


def test_br_and_zstd_are_asked_for_when_their_libraries_are_there() -> None:
    assert ACCEPT_ENCODING == b"gzip, deflate, br, zstd"


def _zstd_streamed(data: bytes) -> bytes:
    """A zstd frame without a content size, as a server streaming its answer writes it."""
    coder = zstandard.ZstdCompressor().compressobj()
    return coder.compress(data) + coder.flush()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("br", brotli.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
        ("zstd", _zstd_streamed),
    ],
)
def test_br_and_zstd_decode_bounded_and_a_broken_or_cut_stream_is_a_decode_error(
    coding: str, encode: Callable[[bytes], bytes]
) -> None:
    assert decode_body(encode(DOCUMENT), coding, 1 << 20) == DOCUMENT
    bomb = encode(b"\0" * (8 << 20))
    assert len(bomb) < 20_000
    assert decode_body(bomb, coding, 4096) == b"\0" * 4096
    with pytest.raises(DecodeError, match=f"the {coding} body does not decode"):
        decode_body(b"this is not compressed at all", coding, 1 << 20)
    cut = encode(DOCUMENT)[:-6]
    with pytest.raises(DecodeError, match=f"the {coding} body ends before its stream does"):
        decode_body(cut, coding, 1 << 20)
    assert DOCUMENT.startswith(decode_body(cut, coding, 1 << 20, complete=False))
