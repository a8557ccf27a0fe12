"""Origin.parse and the Host header."""

from __future__ import annotations

import pytest

from loadlens.http import Origin


@pytest.mark.parametrize(
    ("url", "origin", "host_header"),
    [
        ("http://127.0.0.1:8000/x?y=1#z", Origin("http", "127.0.0.1", 8000), b"127.0.0.1:8000"),
        ("http://example.com", Origin("http", "example.com", 80), b"example.com"),
        ("https://Example.COM/", Origin("https", "example.com", 443), b"example.com"),
        ("HTTPS://api.test:8443", Origin("https", "api.test", 8443), b"api.test:8443"),
        ("http://example.com:443/", Origin("http", "example.com", 443), b"example.com:443"),
        ("http://[::1]:9000/", Origin("http", "::1", 9000), b"[::1]:9000"),
        ("https://[::1]/", Origin("https", "::1", 443), b"[::1]"),
        ("  http://h:1  ", Origin("http", "h", 1), b"h:1"),
    ],
)
def test_parse(url: str, origin: Origin, host_header: bytes) -> None:
    parsed = Origin.parse(url)
    assert parsed == origin
    assert parsed.host_header == host_header


def test_origins_are_hashable_pool_keys() -> None:
    assert {Origin.parse("http://h:1/a"): 1}[Origin.parse("http://h:1/b")] == 1


def test_str_is_the_url_of_the_origin() -> None:
    assert str(Origin.parse("http://127.0.0.1:8000/x")) == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://h/", "must start with http:// or https://"),
        ("127.0.0.1:8000", "must start with http:// or https://"),
        ("/just/a/path", "must start with http:// or https://"),
        ("http:///path", "has no host"),
        ("http://h:99999/", "Port out of range"),
        ("http://h:abc/", "invalid URL 'http://h:abc/'"),
        ("http://h:0/", "port 0"),
        ("http://user:pw@h/", "credentials in the URL are not supported"),
    ],
)
def test_parse_refuses_bad_urls_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Origin.parse(url)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="unsupported scheme"):
        Origin("ws", "h", 80)
    with pytest.raises(ValueError, match="out of range"):
        Origin("http", "h", 70000)
