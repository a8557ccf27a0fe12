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

The parser's and the transport's methods called per request (`feed_data`, `get_status_code`,
`should_keep_alive`, `write`) are bound once, when the parser or the transport is new: compiled,
a call of a method of an untyped object looks the method up by name each time (~100
instructions a call, four a request, callgrind). The parser's callbacks are few, since each is
a Python call per response: the status and the keep-alive verdict are read at
`on_headers_complete`, body chunks go to a list joined once, and `on_message_complete` resolves
the Future. Header fields are not handed over one by one: the
connection keeps the response's first bytes up to the end of its head, and the Response reads
its fields from them only when a check, a capture or the diagnosis asks (see `Response`).
Edge cases of the framing:

* 1xx interim responses (100 Continue) are parsed and dropped; the final one follows.
* A close-delimited body (neither Content-Length nor chunked) ends at EOF, which the connection
  sees itself since httptools has no call to tell the parser about EOF.
* A HEAD response has no body whatever Content-Length says, but llhttp cannot be told that the
  request was a HEAD: the response completes at `on_headers_complete` and the parser is
  replaced by a fresh one, so the next response on the connection starts clean.
* Trailers of a chunked body are parsed and dropped.
* Bytes that arrive while no request is in flight (pipelining is never used) break the
  connection: `on_message_begin` refuses them, in a read of their own or after a complete
  response in the same read, which stops the parser.

Memory per connection is bounded whatever the server sends. A body is kept up to the request's
`max_body` bytes: `on_body` subtracts each chunk from the room left (an integer comparison per
chunk), and past it keeps only the part that fits, counts the rest (bytes on the wire still
count) and drops it, and the Response says `truncated`; an endless body then ends at the read
or total timeout, having held no more than `max_body`. A head is kept whole (the Response reads
its fields later), so it is bounded too: one that goes on past `MAX_HEAD_BYTES` fails the
request as `protocol`.

A request may carry an `Upload` (`loadlens.http.upload`), a body streamed after its head: the
head is written at once, and the body's chunks from the next loop turn on (`_pump`), each read
from disk as the transport takes it and none while the transport has paused writing
(`pause_writing` / `resume_writing`, asyncio's flow control). Each chunk stamps the time, so
the read timeout bounds an upload that stalls. A response that completes before the whole body
was sent (a 413, a 401) ends the upload and the connection: the server would read the rest of
the body as the next request. A request without an upload pays a store and two None tests.

Every failure becomes a `TransportError` set on the Future, and the connection is closed. A
connection is reusable only when llhttp's keep-alive verdict (version, Connection header,
framing) said so and nothing went wrong.

A pooled connection settles its own account with its pool the moment its exchange ends, before
the Future wakes anyone: kept alive, it goes back (`Pool.put`); closed or failed, its slot is
given up (`Pool.release_slot`). So `HttpClient.request` can hand the caller this Future itself,
with no coroutine around it. A request on a reused connection that fails with `reset` or
`closed` before any response byte is not failed but handed to `on_stale` with its Future: the
server most likely closed the idle socket just as the request left, and the client resends it
once on a new connection (in the same slot). Only an idempotent request is resent so (RFC 9110
section 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or one that was never written (the
connection was seen closed before): the server may have read a POST or a PATCH before it
closed, and a load tester must not double a write the user did not ask for. Such a request
fails as `reset` or `closed`. A connection whose server closed it while idle is marked closed
at once, so the pool does not hand it out. A caller that stops waiting on this Future (its task
cancelled) leaves the exchange to end by itself: a response that comes is dropped and the
connection reused; one that does not is cut off by the read timeout. (The client guards the
requests of a bounded pool instead, where a slot is worth freeing at once: `abandon`.)
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, NamedTuple, cast

import httptools
from mypy_extensions import mypyc_attr

from loadlens.http.errors import TransportError, error_kind, transport_error
from loadlens.http.response import Response, Timings, final_head_fields
from loadlens.http.upload import Upload, UploadError, UploadReader
from loadlens.model.outcome import ErrorKind

if TYPE_CHECKING:
    from loadlens.http.pool import Pool

# Names used per request are Final (see "Writing for the compiled modules" in loadlens.native).
monotonic_ns: Final = time.monotonic_ns


# Subclassed outside the compiled modules too (any client of `HttpClient.request_to`).
@mypyc_attr(allow_interpreted_subclasses=True)
class ResponseWaiter:
    """Told of the end of an exchange by a direct call, in place of a Future.

    The engine's callback-driven users are waiters: the connection calls `on_response` or
    `on_error` from its parser callback, and the user sends its next request from there, with
    no Future, no task and no coroutine in between. A waiter must not raise.
    """

    __slots__ = ()

    def on_response(self, response: Response) -> None:
        """The complete response."""
        raise NotImplementedError

    def on_error(self, error: TransportError) -> None:
        """No response came."""
        raise NotImplementedError


class Unsent(NamedTuple):
    """A request still to be sent on some connection, with whom to tell how it ended."""

    waiter: asyncio.Future[Response] | ResponseWaiter
    data: bytes
    head: bool
    start_ns: int
    read_ns: int
    deadline_ns: int
    max_body: int
    upload: Upload | None = None


# Resends a request that met a stale keep-alive socket (on a new connection).
StaleHandler = Callable[[Unsent], None]

# Timers may fire up to a millisecond early by the monotonic clock (uvloop keeps loop time in
# whole milliseconds); a deadline that close counts as passed, instead of re-arming for it.
_SLACK_NS: Final = 1_000_000
_FRAMING_HEADERS: Final = (b"content-length", b"transfer-encoding")
# The longest response head accepted (status line, fields and any 1xx heads before it): far
# above what servers send (nginx reads request heads in 8 KiB buffers, h11 caps at 16 KiB),
# low enough that a hostile endless header line costs a worker nothing.
MAX_HEAD_BYTES: Final = 64 * 1024
# The methods whose request may be sent twice with the effect of once (RFC 9110 9.2.2): only
# these are resent after a stale keep-alive connection.
_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
# Shared, never appended to: `on_body` replaces it with a new list.
_NO_BODY: Final[list[bytes]] = []
_STALE: Final = frozenset({ErrorKind.RESET, ErrorKind.CLOSED})
# Upload chunks written in one turn of the loop at most (1 MiB of 64 KiB chunks): a server that
# reads as fast as the client writes never makes the transport pause, and a large file would
# then hold the loop, and every other user's timing, for as long as it takes to send it.
_CHUNKS_PER_TURN: Final = 16


def _not_connected(data: bytes) -> object:
    """The `write` of a connection without a transport (not yet made, or lost)."""
    raise RuntimeError("not connected")


class ConnectionState(enum.Enum):
    """Where a connection is in its life; only IDLE connections are kept in the pool."""

    CONNECTING = "connecting"
    IDLE = "idle"
    BUSY = "busy"
    CLOSED = "closed"


_IDLE: Final = ConnectionState.IDLE
_BUSY: Final = ConnectionState.BUSY
_CLOSED: Final = ConnectionState.CLOSED


class _UnexpectedResponseError(Exception):
    """Raised inside a parser callback to stop parsing bytes that no request asked for."""


class Connection(asyncio.Protocol):
    """A client HTTP/1.1 connection carrying one request at a time."""

    __slots__ = (
        "_body",
        "_closed_waiter",
        "_connected_ns",
        "_data",
        "_deadline_ns",
        "_feed",
        "_first_ns",
        "_future",
        "_head",
        "_headers_done",
        "_interim",
        "_keep_alive",
        "_keeps_alive",
        "_last_ns",
        "_loop",
        "_parser",
        "_paused",
        "_raw",
        "_read_ns",
        "_received",
        "_reused",
        "_room",
        "_sent",
        "_sent_ns",
        "_start_ns",
        "_status",
        "_status_code",
        "_timer",
        "_timer_due_ns",
        "_transport",
        "_truncated",
        "_upload",
        "_uploading",
        "_write",
        "_written",
        "on_lost",
        "on_stale",
        "pool",
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
        self.pool: Pool | None = None  # set by the pool that tracks this connection
        self.on_stale: StaleHandler | None = None
        self._data = b""
        self._transport: asyncio.Transport | None = None
        self._write: Callable[[bytes], object] = _not_connected  # the transport's `write`
        self._parser: httptools.HttpResponseParser
        self._feed: Callable[[bytes], object]
        self._status_code: Callable[[], int]
        self._keeps_alive: Callable[[], bool]
        self._new_parser()
        self._closed_waiter: asyncio.Future[None] | None = None
        self._future: asyncio.Future[Response] | ResponseWaiter | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due_ns = 0
        self._raw = b""  # the response's first bytes, up to the end of its head at least
        self._body: list[bytes] = _NO_BODY
        self._head = False
        self._headers_done = False
        self._interim = False
        self._keep_alive = False
        self._status = 0
        self._start_ns = self._connected_ns = self._sent_ns = 0
        self._first_ns = self._last_ns = 0
        self._read_ns = self._deadline_ns = 0
        self._sent = self._received = 0
        self._reused = False
        self._room = 0  # bytes of body still to keep; negative once the body went past it
        self._truncated = False
        self._written = False  # the request in flight was handed to the transport
        self._upload: Upload | None = None  # the body streamed after the head, if any
        self._uploading: UploadReader | None = None  # its reader while chunks are still to send
        self._paused = False  # the transport's buffer is full (`pause_writing`)

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
        max_body: int,
        upload: Upload | None = None,
    ) -> asyncio.Future[Response]:
        """Write one encoded request; the returned Future gets its Response or a
        TransportError. At most `max_body` bytes of the response's body are kept; `upload`
        is a body streamed after `data`."""
        future: asyncio.Future[Response] = self._loop.create_future()
        self.start(
            future,
            data,
            start_ns,
            connected_ns,
            reused,
            head,
            read_ns,
            deadline_ns,
            max_body,
            upload,
        )
        return future

    def start(
        self,
        waiter: asyncio.Future[Response] | ResponseWaiter,
        data: bytes,
        start_ns: int,
        connected_ns: int,
        reused: bool,
        head: bool,
        read_ns: int,
        deadline_ns: int,
        max_body: int,
        upload: Upload | None = None,
    ) -> None:
        """Write one encoded request; `waiter` learns how it ended (see `send`)."""
        self._future = waiter
        self._data = data
        self.state = _BUSY
        self._head = head
        self._body = _NO_BODY
        self._headers_done = self._interim = False
        self._start_ns = start_ns
        self._connected_ns = connected_ns
        self._reused = reused
        self._first_ns = self._received = 0
        self._sent = len(data)
        self._read_ns = read_ns
        self._deadline_ns = deadline_ns
        self._room = max_body
        self._truncated = False
        self._upload = upload
        try:
            self._write(data)  # `_not_connected` without a transport
            self._written = True
        except (RuntimeError, OSError) as exc:
            self._written = False
            self._sent_ns = self._last_ns = monotonic_ns()
            # Failed on the next turn, never inside this call: a waiter that sends its next
            # request from on_error would otherwise recurse through every broken connection.
            self._loop.call_soon(self._fail, ErrorKind.CLOSED, f"{self.where}: cannot send: {exc}")
            return
        self._sent_ns = self._last_ns = now = monotonic_ns()
        if upload is not None:
            self._uploading = upload.reader()
            # On the next turn, like a failure above: a read error must not reach the waiter
            # from inside this call.
            self._loop.call_soon(self._pump)
        due = now + read_ns
        if due > deadline_ns:  # noqa: PLR1730 (min() is one more call on the hot path)
            due = deadline_ns
        timer = self._timer
        if timer is None or self._timer_due_ns > due:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_later((due - now) / 1e9, self._on_timer)
            self._timer_due_ns = due

    @property
    def received_nothing(self) -> bool:
        """No byte of a response arrived for the current (or last) request."""
        return self._received == 0

    def close(self) -> None:
        """Close the connection; a request in flight fails with `closed`."""
        self._fail(ErrorKind.CLOSED, f"{self.where}: the client was closed")

    def abandon(self, waiter: asyncio.Future[Response] | ResponseWaiter) -> None:
        """Close the connection if `waiter`'s request is still in flight (its caller left)."""
        if self._future is waiter:
            self._future = None
            self._fail(ErrorKind.OTHER, "abandoned")

    async def wait_closed(self) -> None:
        """Return once the transport has reported the connection lost."""
        if self._transport is None:
            return  # never made, or already lost
        if self._closed_waiter is None:
            self._closed_waiter = self._loop.create_future()
        await self._closed_waiter

    def _pump(self) -> None:
        """Write the upload's next chunks until it ends or the transport's buffer is full.

        Each chunk written stamps the time, so the read timeout bounds a stalled upload too;
        the request counts as sent when its last chunk is handed to the transport."""
        turn = 0
        while not self._paused:
            if turn == _CHUNKS_PER_TURN:
                self._loop.call_soon(self._pump)  # the rest after the loop's other work
                return
            turn += 1
            reader = self._uploading
            transport = self._transport
            if reader is None or transport is None:
                return
            try:
                chunk = reader.next_chunk()
            except UploadError as error:
                self._fail(ErrorKind.OTHER, f"{self.where}: upload: {error}")
                return
            if not chunk:
                self._uploading = None
                self._sent_ns = self._last_ns = monotonic_ns()
                return
            try:
                transport.write(chunk)  # may call `pause_writing` before it returns
            except (RuntimeError, OSError) as exc:
                self._fail(ErrorKind.CLOSED, f"{self.where}: cannot send: {exc}")
                return
            self._sent += len(chunk)  # what was sent: less than the body when it stops early
            self._last_ns = monotonic_ns()

    def _stop_upload(self) -> None:
        """Drop the rest of an upload (the exchange ended before it was all sent)."""
        reader = self._uploading
        if reader is not None:
            self._uploading = None
            reader.close()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._uploading is not None:
            self._pump()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(cast(asyncio.Transport, transport))  # uvloop's are not asyncio.Transport

    def attach(self, transport: asyncio.Transport) -> None:
        """Take the transport; create_connection on uvloop can return before connection_made."""
        if self.state is ConnectionState.CONNECTING:
            self._transport = transport
            self._write = transport.write
            self.state = _IDLE

    def data_received(self, data: bytes) -> None:
        now = monotonic_ns()
        self._last_ns = now
        if not self._first_ns:
            self._first_ns = now
            self._raw = data
        elif not self._headers_done:
            self._raw += data  # a head split over reads: rare, so plain concatenation
        self._received += len(data)
        try:
            self._feed(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if isinstance(exc.__context__, _UnexpectedResponseError):
                self._fail(ErrorKind.PROTOCOL, f"{self.where}: response bytes with no request")
            else:
                self._fail(ErrorKind.PROTOCOL, f"{self.where}: invalid response: {exc}")
            return
        # Every byte so far belongs to heads while the final head is incomplete.
        if not self._headers_done and self._received > MAX_HEAD_BYTES:
            self._fail(
                ErrorKind.PROTOCOL,
                f"{self.where}: response head longer than {MAX_HEAD_BYTES} bytes",
            )

    def eof_received(self) -> bool:
        if self._future is None and self.state is _IDLE:
            self.state = _CLOSED  # the server closed it while idle: the pool must not hand it out
        self._end_of_stream(None)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_stream(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.state = _CLOSED
        self._transport = None
        self._write = _not_connected
        if self.on_lost is not None:
            self.on_lost(self)
        waiter = self._closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._future is None:
            raise _UnexpectedResponseError  # a second response in the read that ended the first

    def _new_parser(self) -> None:
        """A fresh parser, with the methods called per response bound."""
        parser = httptools.HttpResponseParser(self)
        self._parser = parser
        self._feed = parser.feed_data
        self._status_code = parser.get_status_code
        self._keeps_alive = parser.should_keep_alive

    def on_headers_complete(self) -> None:
        status = self._status_code()
        if status < 200:
            self._interim = True
            return
        self._status = status
        self._keep_alive = self._keeps_alive()
        self._headers_done = True
        if self._head:
            self._new_parser()
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        room = self._room - len(body)
        self._room = room
        if room < 0:
            self._over_max_body(body, room)
        elif self._body is _NO_BODY:
            self._body = [body]
        else:
            self._body.append(body)

    def _over_max_body(self, body: bytes, room: int) -> None:
        """Keep the part of a chunk that still fits in `max_body`; drop the rest."""
        self._truncated = True
        fits = len(body) + room  # the room there was before this chunk
        if fits > 0:
            if self._body is _NO_BODY:
                self._body = [body[:fits]]
            else:
                self._body.append(body[:fits])

    def on_message_complete(self) -> None:
        """Resolve the Future with the response (also called for a HEAD and at EOF)."""
        future = self._future
        if future is None:
            return  # the HEAD response that completed at its headers
        if self._interim:
            self._interim = False  # the 1xx head ends here; the final response follows
            return
        self._future = None
        self._data = b""
        if self._uploading is not None:  # answered before the whole body was sent
            self._stop_upload()
            self._keep_alive = False  # the server would read the rest as the next request
        body = self._body
        response = Response(
            self._status,
            self._raw,
            b"" if self._head else b"".join(body),  # one chunk: join returns it as it is
            self._sent,
            self._received,
            self._start_ns,
            self._connected_ns,
            self._sent_ns,
            self._first_ns,
            self._last_ns,
            self._reused,
            self._truncated,
        )
        pool = self.pool
        if self._keep_alive:
            self.state = _IDLE
            if pool is not None:
                pool.put(self)
        else:
            self.state = _CLOSED
            if self._transport is not None:
                self._transport.close()
            if pool is not None:
                pool.release_slot()
        if isinstance(future, ResponseWaiter):
            future.on_response(response)
        elif not future.done():
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
            self.on_message_complete()  # a close-delimited body ends here
        elif exc is None:
            self._fail(ErrorKind.CLOSED, f"{self.where}: closed before a full response")
        else:
            error = transport_error(exc, self.where)
            self._fail(error_kind(exc), error.message)

    def _framed(self) -> bool:
        return any(name in _FRAMING_HEADERS for name, _ in final_head_fields(self._raw))

    def _fail(self, kind: ErrorKind, message: str) -> None:
        """Fail the request in flight, if any, and close the connection for good."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        was_busy = self.state is _BUSY
        self.state = _CLOSED
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        future = self._future
        self._future = None
        data, self._data = self._data, b""
        if self._uploading is not None:
            self._stop_upload()
        stale = self.on_stale
        if (
            stale is not None
            and future is not None
            and (isinstance(future, ResponseWaiter) or not future.done())
            and self._reused
            and self.received_nothing
            and kind in _STALE
            and (not self._written or data[: data.find(b" ")] in _IDEMPOTENT)
        ):
            unsent = Unsent(
                future,
                data,
                self._head,
                self._start_ns,
                self._read_ns,
                self._deadline_ns,
                self._room,  # no body byte came: still the request's max_body
                self._upload,
            )
            stale(unsent)
            return  # the slot goes on to the new connection
        if was_busy and self.pool is not None:
            self.pool.release_slot()
        if future is None:
            return
        timings = Timings(
            self._start_ns,
            self._connected_ns,
            self._sent_ns,
            self._first_ns,
            monotonic_ns(),
            self._reused,
        )
        if isinstance(future, ResponseWaiter):
            future.on_error(TransportError(kind, message, timings))
        elif not future.done():
            future.set_exception(TransportError(kind, message, timings))
