"""One HTTP/1.1 connection: an asyncio.Protocol that sends a request and assembles its response.

How it works
------------
A `Connection` owns one transport and one `httptools.HttpResponseParser` for its whole life:
llhttp resets itself after each complete message, so every keep-alive response is parsed by
the same parser, and each byte is parsed once, in C.

`send()` writes the whole encoded request and creates the one Future the caller awaits. Time
limits use one timer handle per connection (`loop.call_later`), never a Task: each
`data_received` stamps the time, and when the timer fires it checks the request in flight
against its read and total deadlines, fails it if one has passed, and re-arms for the rest
otherwise. So the read timeout bounds every gap (sending → first byte, and between any two
reads). The timer is not cancelled when a response completes: the next request on the
connection keeps it if it fires no later than that request's first deadline, which saves
arming and cancelling a timer per request (about 2 µs on uvloop); a timer that finds no
request in flight just ends.

The parser's callbacks fill the response in place: headers are appended as (lower-cased name,
value) tuples, body chunks go to a list joined once. `on_message_complete` resolves the Future.
Edge cases of the framing:

* 1xx interim responses (100 Continue) are parsed and dropped; the final one follows.
* A close-delimited body (neither Content-Length nor chunked) ends at EOF, which the connection
  sees itself since httptools has no call to tell the parser about EOF.
* A HEAD response has no body whatever Content-Length says, but llhttp cannot be told that the
  request was a HEAD: the response completes at `on_headers_complete` and the parser is
  replaced by a fresh one, so the next response on the connection starts clean.
* Trailers of a chunked body are parsed and dropped.
* Bytes that arrive while no request is in flight (pipelining is never used) break the
  connection: `on_message_begin` refuses them, which stops the parser.

Every failure becomes a `TransportError` set on the Future, and the connection is closed. A
connection is reusable only when llhttp's keep-alive verdict (version, Connection header,
framing) said so and nothing went wrong; the state tells the pool which.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from time import monotonic_ns
from typing import cast

import httptools

from loadlens.http.errors import TransportError, error_kind, transport_error
from loadlens.http.response import Response, Timings
from loadlens.model.outcome import ErrorKind

# Timers may fire up to a millisecond early by the monotonic clock (uvloop keeps loop time in
# whole milliseconds); a deadline that close counts as passed, instead of re-arming for it.
_SLACK_NS = 1_000_000
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")


class ConnectionState(enum.Enum):
    """Where a connection is in its life; only IDLE connections are kept in the pool."""

    CONNECTING = "connecting"
    IDLE = "idle"
    BUSY = "busy"
    CLOSED = "closed"


_IDLE = ConnectionState.IDLE
_BUSY = ConnectionState.BUSY
_CLOSED = ConnectionState.CLOSED


class _UnexpectedResponseError(Exception):
    """Raised inside a parser callback to stop parsing bytes that no request asked for."""


class Connection(asyncio.Protocol):
    """A client HTTP/1.1 connection carrying one request at a time."""

    __slots__ = (
        "_body",
        "_closed_waiter",
        "_connected_ns",
        "_deadline_ns",
        "_first_ns",
        "_future",
        "_head",
        "_head_count",
        "_headers",
        "_headers_done",
        "_interim",
        "_keep_alive",
        "_last_ns",
        "_loop",
        "_parser",
        "_read_ns",
        "_received",
        "_reused",
        "_sent",
        "_sent_ns",
        "_start_ns",
        "_status",
        "_timer",
        "_timer_due_ns",
        "_transport",
        "on_lost",
        "pooled",
        "state",
        "where",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, where: str = "") -> None:
        self._loop = loop
        self.where = where  # the origin, for error messages
        self.state = ConnectionState.CONNECTING
        self.pooled = False  # sitting in the pool's idle deque (the pool keeps this)
        self.on_lost: Callable[[Connection], None] | None = None
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._closed_waiter: asyncio.Future[None] | None = None
        self._future: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due_ns = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._head = False
        self._head_count = 0
        self._headers_done = False
        self._interim = False
        self._keep_alive = False
        self._status = 0
        self._start_ns = self._connected_ns = self._sent_ns = 0
        self._first_ns = self._last_ns = 0
        self._read_ns = self._deadline_ns = 0
        self._sent = self._received = 0
        self._reused = False

    # -- the request, called by the client -------------------------------------------------

    def send(
        self,
        data: bytes,
        start_ns: int,
        connected_ns: int,
        reused: bool,
        head: bool,
        read_ns: int,
        deadline_ns: int,
    ) -> asyncio.Future[Response]:
        """Write one encoded request; the Future gets its Response or a TransportError."""
        future: asyncio.Future[Response] = self._loop.create_future()
        self._future = future
        self.state = _BUSY
        self._head = head
        self._headers = []
        self._body = []
        self._headers_done = self._interim = False
        self._start_ns = start_ns
        self._connected_ns = connected_ns
        self._reused = reused
        self._first_ns = self._received = 0
        self._sent = len(data)
        self._read_ns = read_ns
        self._deadline_ns = deadline_ns
        transport = self._transport
        try:
            assert transport is not None
            transport.write(data)
        except (RuntimeError, OSError, AssertionError) as exc:
            self._sent_ns = self._last_ns = monotonic_ns()
            self._fail(ErrorKind.CLOSED, f"{self.where}: cannot send: {exc}")
            return future
        self._sent_ns = self._last_ns = now = monotonic_ns()
        due = min(now + read_ns, deadline_ns)
        timer = self._timer
        if timer is None or self._timer_due_ns > due:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_later((due - now) / 1e9, self._on_timer)
            self._timer_due_ns = due
        return future

    @property
    def received_nothing(self) -> bool:
        """No byte of a response arrived for the current (or last) request."""
        return self._received == 0

    def abandon(self) -> None:
        """Drop the request in flight (its caller went away) and close the connection."""
        self._future = None
        self._fail(ErrorKind.OTHER, "abandoned")

    def close(self) -> None:
        """Close the connection; a request in flight fails with `closed`."""
        self._fail(ErrorKind.CLOSED, f"{self.where}: the client was closed")

    async def wait_closed(self) -> None:
        """Return once the transport has reported the connection lost."""
        if self._transport is None:
            return  # never made, or already lost
        if self._closed_waiter is None:
            self._closed_waiter = self._loop.create_future()
        await self._closed_waiter

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(cast(asyncio.Transport, transport))  # uvloop's are not asyncio.Transport

    def attach(self, transport: asyncio.Transport) -> None:
        """Take the transport; create_connection on uvloop can return before connection_made."""
        if self.state is ConnectionState.CONNECTING:
            self._transport = transport
            self.state = _IDLE

    def data_received(self, data: bytes) -> None:
        now = monotonic_ns()
        self._last_ns = now
        if not self._first_ns:
            self._first_ns = now
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if isinstance(exc.__context__, _UnexpectedResponseError):
                self._fail(ErrorKind.PROTOCOL, f"{self.where}: response bytes with no request")
            else:
                self._fail(ErrorKind.PROTOCOL, f"{self.where}: invalid response: {exc}")

    def eof_received(self) -> bool:
        self._end_of_stream(None)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_stream(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.state = _CLOSED
        self._transport = None
        if self.on_lost is not None:
            self.on_lost(self)
        waiter = self._closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._future is None:
            raise _UnexpectedResponseError

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            self._interim = True
            return
        self._status = status
        self._keep_alive = parser.should_keep_alive()
        self._head_count = len(self._headers)
        self._headers_done = True
        if self._head:
            self._parser = httptools.HttpResponseParser(self)
            self._complete()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._future is None:
            return  # the HEAD response that completed at its headers
        if self._interim:
            self._interim = False
            self._headers = []
            return
        self._complete()

    # -- internals -------------------------------------------------------------------------------

    def _complete(self) -> None:
        future = self._future
        self._future = None
        headers = self._headers
        if len(headers) != self._head_count:
            del headers[self._head_count :]  # trailers
        response = Response(
            self._status,
            headers,
            b"" if self._head else b"".join(self._body),
            Timings(
                self._start_ns,
                self._connected_ns,
                self._sent_ns,
                self._first_ns,
                self._last_ns,
                self._reused,
            ),
            self._sent,
            self._received,
        )
        if self._keep_alive:
            self.state = _IDLE
        else:
            self.state = _CLOSED
            if self._transport is not None:
                self._transport.close()
        if future is not None and not future.done():
            future.set_result(response)

    def _on_timer(self) -> None:
        self._timer = None
        if self._future is None:
            return
        now = monotonic_ns()
        if now >= self._deadline_ns - _SLACK_NS:
            self._fail(ErrorKind.TOTAL_TIMEOUT, f"{self.where}: no full response in total time")
        elif now - self._last_ns >= self._read_ns - _SLACK_NS:
            self._fail(ErrorKind.READ_TIMEOUT, f"{self.where}: nothing received in read time")
        else:
            due = min(self._last_ns + self._read_ns, self._deadline_ns)
            self._timer = self._loop.call_later((due - now) / 1e9, self._on_timer)
            self._timer_due_ns = due

    def _end_of_stream(self, exc: Exception | None) -> None:
        if self._future is None:
            return
        if exc is None and self._headers_done and not self._framed():
            self._complete()  # a close-delimited body ends here
        elif exc is None:
            self._fail(ErrorKind.CLOSED, f"{self.where}: closed before a full response")
        else:
            error = transport_error(exc, self.where)
            self._fail(error_kind(exc), error.message)

    def _framed(self) -> bool:
        headers = self._headers
        return any(headers[i][0] in _FRAMING_HEADERS for i in range(self._head_count))

    def _fail(self, kind: ErrorKind, message: str) -> None:
        """Fail the request in flight, if any, and close the connection for good."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.state = _CLOSED
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        future = self._future
        self._future = None
        if future is not None and not future.done():
            end = monotonic_ns()
            timings = Timings(
                self._start_ns,
                self._connected_ns,
                self._sent_ns,
                self._first_ns,
                end,
                self._reused,
            )
            future.set_exception(TransportError(kind, message, timings))
