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


class Response:
    """A complete HTTP response, with the instants of its exchange.

    The instants are plain integer fields, set where they are known: compiled, they stay C
    integers from the connection to the recorder's phase sums, where a tuple of them cost five
    new ints, the tuple, and the unboxing of each again. The headers are read from the raw head
    only when asked for: llhttp has already validated and framed the message, and most
    responses of a load test are judged by status alone, so handing every header to Python as
    it is parsed would be wasted work.
    """

    __slots__ = (
        "_head",
        "_headers",
        "body",
        "bytes_received",
        "bytes_sent",
        "connected_ns",
        "end_ns",
        "first_ns",
        "reused",
        "sent_ns",
        "start_ns",
        "status",
        "truncated",
    )

    def __init__(
        self,
        status: int,
        head: bytes,
        body: bytes,
        bytes_sent: int,
        bytes_received: int,
        start_ns: int,
        connected_ns: int,
        sent_ns: int,
        first_ns: int,
        end_ns: int,
        reused: bool,
        truncated: bool = False,
    ) -> None:
        self.status = status
        self._head = head  # the response's first bytes, at least up to the end of its head
        self._headers: list[tuple[bytes, bytes]] | None = None
        self.body = body  # at most the request's `max_body` bytes: see `truncated`
        self.bytes_sent = bytes_sent
        self.bytes_received = bytes_received
        # The instants of the exchange (`Timings` says what each is) and whether the
        # connection was reused.
        self.start_ns = start_ns
        self.connected_ns = connected_ns
        self.sent_ns = sent_ns
        self.first_ns = first_ns
        self.end_ns = end_ns
        self.reused = reused
        # The body went on past `max_body`: `body` is its first bytes, the rest was counted
        # in `bytes_received` and dropped.
        self.truncated = truncated

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The header fields in order, names lower-cased (interim 1xx heads skipped)."""
        if self._headers is None:
            self._headers = final_head_fields(self._head)
        return self._headers

    @property
    def raw_head(self) -> bytes:
        """The response's first bytes as received, at least up to the end of its head: a
        cheap test for a field (a cookie) can look here before any header is parsed."""
        return self._head

    @property
    def timings(self) -> Timings:
        """The instants of this exchange as a Timings."""
        return Timings(
            self.start_ns,
            self.connected_ns,
            self.sent_ns,
            self.first_ns,
            self.end_ns,
            self.reused,
        )

    def header(self, name: str) -> str | None:
        """The first value of a header, found case-insensitively, decoded as latin-1."""
        key = name.lower().encode("latin-1")
        for field_name, value in self.headers:
            if field_name == key:
                return value.decode("latin-1")
        return None

    def __repr__(self) -> str:
        cut = ", truncated" if self.truncated else ""
        return f"Response(status={self.status}, body={len(self.body)} bytes{cut})"


def final_head_fields(raw: bytes) -> list[tuple[bytes, bytes]]:
    """The fields of the last head in `raw` (one that llhttp accepted): 1xx heads are skipped.

    Lines may end in CRLF or a bare LF; a value loses the whitespace around it, as llhttp
    reports it.
    """
    start = 0
    while True:
        end = _head_end(raw, start)
        lines = raw[start:end].split(b"\n")
        status_line = lines[0].split(None, 2)
        start = end
        if len(status_line) < 2 or not status_line[1].startswith(b"1"):
            break
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            fields.append((name.strip().lower(), value.strip(b" \t\r")))
    return fields


def _head_end(raw: bytes, start: int) -> int:
    """Where the head beginning at `start` ends (after its blank line), or the end of `raw`."""
    crlf = raw.find(b"\r\n\r\n", start)
    lf = raw.find(b"\n\n", start)
    if crlf < 0 and lf < 0:
        return len(raw)
    if lf < 0 or 0 <= crlf < lf:
        return crlf + 4
    return lf + 2
