"""The lean HTTP/1.1 client on asyncio.Protocol and httptools: the hot path of a load test;
HTTP/2 (`ClientOptions(http2=True)`, the sans-IO `h2` under the same pool and Response) in
`loadlens.http.http2`.

Callers encode a request once with `encode_request`, then send the bytes as often as they like
with `HttpClient.request` (or `request_to`, which calls a `ResponseWaiter` back instead of
resolving a Future); a request that gets no response raises `TransportError`, whose `kind` is a
stable `ErrorKind`.
"""

from __future__ import annotations

from loadlens.http.client import HttpClient
from loadlens.http.connection import ResponseWaiter
from loadlens.http.errors import TransportError
from loadlens.http.options import ClientOptions
from loadlens.http.origin import Origin
from loadlens.http.response import Response, Timings
from loadlens.http.wire import encode_request

__all__ = [
    "ClientOptions",
    "HttpClient",
    "Origin",
    "Response",
    "ResponseWaiter",
    "Timings",
    "TransportError",
    "encode_request",
]
