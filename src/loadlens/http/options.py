"""How a client behaves: timeouts, TLS verification, the pool's bound, the body kept."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadlens.model.scenario import DEFAULT_MAX_BODY, DEFAULT_MAX_STREAMS


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Settings of an HttpClient; timeouts are in seconds (math.inf for none)."""

    connect_timeout: float = 10.0  # TCP connect and TLS handshake
    read_timeout: float = 30.0  # the longest wait for the response's next bytes
    total_timeout: float = 60.0  # the whole request, from request() to a complete response
    verify_tls: bool = True
    max_connections_per_origin: int | None = None  # None: as many as there are requests
    max_body: int = DEFAULT_MAX_BODY  # bytes of a response body kept; the rest is counted, dropped
    http2: bool = False  # HTTP/2 (ALPN h2 over TLS, prior knowledge on http://) for every origin
    max_streams: int = DEFAULT_MAX_STREAMS  # HTTP/2: streams at once on one connection

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            value = getattr(self, name)
            if math.isnan(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        limit = self.max_connections_per_origin
        if limit is not None and limit < 1:
            raise ValueError(f"max_connections_per_origin must be at least 1, not {limit}")
        if self.max_streams < 1:
            raise ValueError(f"max_streams must be at least 1, not {self.max_streams}")
        if self.max_body < 0:
            raise ValueError(f"max_body must be 0 or more bytes, not {self.max_body}")
