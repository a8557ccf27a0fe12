"""What one request produced: the response and when each of its phases happened."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Timings:
    """Instants of one request from `time.monotonic_ns()`; 0 marks a phase never reached."""

    start_ns: int  # request() was called
    connected_ns: int  # a connection was ready (== start_ns when an idle one was reused at once)
    sent_ns: int  # the last byte of the request was handed to the transport
    first_byte_ns: int  # the first byte of the response arrived
    end_ns: int  # the response was complete
    reused: bool  # sent on a kept-alive connection


@dataclass(slots=True)
class Response:
    """A complete HTTP response; header names are lower-cased and kept in order."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    timings: Timings
    bytes_sent: int
    bytes_received: int

    def header(self, name: str) -> str | None:
        """The first value of a header, found case-insensitively, decoded as latin-1."""
        key = name.lower().encode("latin-1")
        for field_name, value in self.headers:
            if field_name == key:
                return value.decode("latin-1")
        return None
