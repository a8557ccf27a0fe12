"""HTTP/2 connections (the sans-IO `h2` library) under the same client, pool and Response.

How it works
------------
An origin whose scenario asks for `http2` gets an `Http2Pool` instead of a `Pool`, chosen once
when the client first meets the origin; the HTTP/1.1 path is not touched. `Http2Pool.take_idle`
hands out a connection that has a stream free (fewer streams open than its `max_streams` and the
server's SETTINGS_MAX_CONCURRENT_STREAMS), so the client's fast path (`take_idle` then `start`)
is the same for both protocols. When every connection is full a request reserves the opening of
a new one; while one is opening, the others wait in the pool's FIFO line and are handed the new
connection, as many as it has streams free; a stream that ends hands its place to the next in
line.

The request arrives encoded as HTTP/1.1 bytes (the engine encodes once for both): the head is
split into a method, a target and fields (Host becomes `:authority`; the fields HTTP/2 forbids,
Connection, Keep-Alive, Transfer-Encoding, Upgrade, are dropped) and the rest is the body. Its
DATA frames follow the flow-control windows: what does not fit waits for a WINDOW_UPDATE; an
`Upload` is read chunk by chunk as the window opens. Received DATA is acknowledged at once, so
the server's window never closes on a body that is being counted and dropped past `max_body`.

A response becomes the same `Response` as over HTTP/1.1: its head is written out as text
(`HTTP/2 200`, then the fields) so that headers, cookies, captures and decoding read it as they
read an HTTP/1.1 head. `bytes_received` counts that head and the body's DATA payloads (HPACK
compresses the head on the wire; the frames' own bytes are not counted), `bytes_sent` the
request as encoded.

Errors are the same kinds as over HTTP/1.1: RST_STREAM from the server fails its stream as
`reset` (the message names the error code), GOAWAY fails the streams the server says it did not
process as `closed` and no new stream goes on that connection, a frame `h2` rejects fails every
stream as `protocol`, and a TLS connection on which the server did not select `h2` by ALPN fails
as `protocol` (loadlens does not fall back to HTTP/1.1: the scenario asked for HTTP/2, and a
silent fallback would measure another protocol). Read and total timeouts are kept per stream
with one timer each. A request is never resent on a new connection (no stale keep-alive race).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Final

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from loadlens.http.connection import (
    Connection,
    ConnectionState,
    ResponseWaiter,
    monotonic_ns,
)
from loadlens.http.errors import TransportError, error_kind, transport_error
from loadlens.http.pool import Pool
from loadlens.http.response import Response, Timings
from loadlens.http.upload import Upload, UploadError, UploadReader
from loadlens.model.outcome import ErrorKind

_IDLE: Final = ConnectionState.IDLE
_CLOSED: Final = ConnectionState.CLOSED
_CONNECTING: Final = ConnectionState.CONNECTING
_SLACK_NS: Final = 1_000_000  # as in loadlens.http.connection
# Fields that HTTP/1.1 framing uses and HTTP/2 forbids (RFC 9113 section 8.2.2).
_HOP_BY_HOP: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# Our receive window: large enough that a fast server is not held back by WINDOW_UPDATE round
# trips (the RFC's default is 64 KiB); h2 sends updates as the data is acknowledged.
_WINDOW: Final = 4 * 1024 * 1024
_MAX_FRAME: Final = 1 << 14  # the RFC's minimum and default SETTINGS_MAX_FRAME_SIZE


def split_request(
    data: bytes, authority: bytes, scheme: bytes
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The HTTP/2 header list and the body of a request encoded as HTTP/1.1 (by `wire`)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("the request has no end of head")
    lines = data[:end].split(b"\r\n")
    method, _, rest = lines[0].partition(b" ")
    target = rest.rpartition(b" ")[0]
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"host":
            authority = value.strip()
        elif name == b"te":
            if value.strip().lower() == b"trailers":
                fields.append((name, b"trailers"))
        elif name not in _HOP_BY_HOP:
            fields.append((name, value.strip()))
    headers = [
        (b":method", method),
        (b":scheme", scheme),
        (b":authority", authority),
        (b":path", target),
        *fields,
    ]
    return headers, data[end + 4 :]


class _Stream:
    """One request in flight on an HTTP/2 connection."""

    __slots__ = (
        "body",
        "connected_ns",
        "data",
        "deadline_ns",
        "first_ns",
        "head",
        "last_ns",
        "pending",
        "read_ns",
        "received",
        "reused",
        "room",
        "sent",
        "sent_ns",
        "start_ns",
        "status",
        "stream_id",
        "timer",
        "truncated",
        "upload",
        "uploading",
        "waiter",
    )

    def __init__(
        self,
        waiter: asyncio.Future[Response] | ResponseWaiter,
        start_ns: int,
        connected_ns: int,
        reused: bool,
        read_ns: int,
        deadline_ns: int,
        max_body: int,
    ) -> None:
        self.waiter = waiter
        self.stream_id = 0
        self.start_ns = start_ns
        self.connected_ns = connected_ns
        self.reused = reused
        self.read_ns = read_ns
        self.deadline_ns = deadline_ns
        self.room = max_body
        self.sent_ns = self.first_ns = self.last_ns = 0
        self.sent = self.received = 0
        self.status = 0
        self.head = b""
        self.body: list[bytes] = []
        self.truncated = False
        self.pending = b""  # body bytes still to send (waiting for the flow-control window)
        self.data = b""  # the encoded request, until its stream opens
        self.upload: Upload | None = None  # its streamed body, until its stream opens
        self.uploading: UploadReader | None = None
        self.timer: asyncio.TimerHandle | None = None


class Http2Connection(Connection):
    """A client HTTP/2 connection carrying up to `max_streams` requests at once."""

    __slots__ = (
        "_authority",
        "_backlog",
        "_h2",
        "_refused",
        "_scheme",
        "_settled",
        "_streams",
        "max_streams",
        "promised",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        where: str,
        scheme: str,
        authority: bytes,
        max_streams: int,
    ) -> None:
        super().__init__(loop, where)
        self._scheme = scheme.encode("ascii")
        self._authority = authority
        self.max_streams = max_streams
        self.promised = 0  # streams handed by the pool to waiters that have not started yet
        self._streams: dict[int, _Stream] = {}
        # Requests past the streams allowed, in order (the pool may hand out a stream more
        # than there is when the server lowers its limit, or as waiters wake): each starts as
        # a stream ends, or fails at its total deadline.
        self._backlog: collections.deque[_Stream] = collections.deque()
        self._settled = False  # the server's SETTINGS came (its stream limit is known)
        self._refused = ""  # why no stream may start here (ALPN chose another protocol)
        # Outbound fields are already checked (`wire`: no CR/LF, no empty name) and lower-cased
        # here (`split_request`): h2 need not do it again per request. The server's fields are
        # still validated: a response the protocol forbids fails as `protocol`.
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self._h2 = h2.connection.H2Connection(config=config)

    # -- capacity, for the pool ------------------------------------------------------------

    def free_streams(self) -> int:
        """Streams that may still be opened here now (0 once closing)."""
        if self.state is not _IDLE:
            return 0
        return self._limit() - len(self._streams) - len(self._backlog) - self.promised

    @property
    def settled(self) -> bool:
        """The server's SETTINGS came: its limit on streams is known."""
        return self._settled

    def _limit(self) -> int:
        """Streams allowed at once: one until the server's SETTINGS say how many it takes."""
        if not self._settled:
            return 1
        return min(self.max_streams, self._h2.remote_settings.max_concurrent_streams)

    # -- the request, called by the client -------------------------------------------------

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
        """Open a stream for one encoded request; `waiter` learns how it ended."""
        if self.promised > 0:
            self.promised -= 1
        stream = _Stream(waiter, start_ns, connected_ns, reused, read_ns, deadline_ns, max_body)
        now = monotonic_ns()
        stream.sent_ns = stream.last_ns = now
        stream.data = data
        stream.upload = upload
        if self._refused or self.state is not _IDLE or self._transport is None:
            why = self._refused or f"{self.where}: the connection is closing"
            kind = ErrorKind.PROTOCOL if self._refused else ErrorKind.CLOSED
            self._loop.call_soon(self._finish_error, stream, kind, why)
            if self._refused and self._transport is not None:
                self._transport.close()  # no stream will ever go on it
            return
        if len(self._streams) >= self._limit():
            self._backlog.append(stream)
            stream.timer = self._loop.call_later(
                (deadline_ns - now) / 1e9, self._on_backlog_timer, stream
            )
            return
        self._open(stream, now)
        self._flush()

    def _open(self, stream: _Stream, now: int) -> None:
        """Send a request's headers (and what the windows allow of its body) on a new stream."""
        h2conn = self._h2
        data, upload = stream.data, stream.upload
        stream.data = b""
        stream.upload = None
        try:
            headers, body = split_request(data, self._authority, self._scheme)
            stream_id = h2conn.get_next_available_stream_id()
            end = not body and upload is None
            h2conn.send_headers(stream_id, headers, end_stream=end)
        except (ValueError, h2.exceptions.H2Error) as exc:
            self._loop.call_soon(
                self._finish_error, stream, ErrorKind.PROTOCOL, f"{self.where}: cannot send: {exc}"
            )
            return
        stream.stream_id = stream_id
        stream.sent = len(data)
        stream.sent_ns = stream.last_ns = now
        self._streams[stream_id] = stream
        if body or upload is not None:
            stream.pending = body
            if upload is not None:
                stream.uploading = upload.reader()
            self._send_body(stream)
        stream.timer = self._loop.call_later(
            (min(now + stream.read_ns, stream.deadline_ns) - now) / 1e9,
            self._on_stream_timer,
            stream,
        )

    def _drain(self) -> None:
        """Start backlogged requests while streams are free."""
        backlog = self._backlog
        if not backlog or self.state is not _IDLE:
            return
        now = monotonic_ns()
        while backlog and len(self._streams) < self._limit():
            stream = backlog.popleft()
            if stream.timer is not None:
                stream.timer.cancel()
                stream.timer = None
            self._open(stream, now)
        self._flush()

    def _on_backlog_timer(self, stream: _Stream) -> None:
        stream.timer = None
        if stream in self._backlog:
            self._backlog.remove(stream)
            message = f"{self.where}: no HTTP/2 stream free within the total timeout"
            self._finish_error(stream, ErrorKind.TOTAL_TIMEOUT, message)

    def abandon(self, waiter: asyncio.Future[Response] | ResponseWaiter) -> None:
        """Reset the stream of `waiter`'s request if it is still in flight (its caller left)."""
        for stream in list(self._streams.values()):
            if stream.waiter is waiter:
                self._drop(stream)
                self._reset(stream.stream_id)
                return
        for stream in list(self._backlog):
            if stream.waiter is waiter:
                self._backlog.remove(stream)
                if stream.timer is not None:
                    stream.timer.cancel()
                return

    def close(self) -> None:
        """Close the connection; requests in flight fail with `closed`."""
        self._fail_all(ErrorKind.CLOSED, f"{self.where}: the client was closed")

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def attach(self, transport: asyncio.Transport) -> None:
        """Take the transport, check ALPN and send the connection preface."""
        if self.state is not _CONNECTING:
            return
        super().attach(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            chosen = ssl_object.selected_alpn_protocol()
            if chosen != "h2":
                self._refused = (
                    f"{self.where}: the server did not agree to HTTP/2 over TLS (ALPN chose "
                    f"{chosen or 'nothing'}); set `http2: false` to test it over HTTP/1.1"
                )
                self.state = _CLOSED
                return
        h2conn = self._h2
        h2conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        h2conn.initiate_connection()
        h2conn.increment_flow_control_window(_WINDOW - 65535)
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._flush()
            self._fail_all(ErrorKind.PROTOCOL, f"{self.where}: HTTP/2 protocol error: {exc}")
            return
        now = monotonic_ns()
        streams = self._streams
        for event in events:
            if isinstance(event, h2.events.DataReceived):
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.last_ns = now
                    self._on_data(stream, event.data)
            elif isinstance(event, h2.events.ResponseReceived):
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.last_ns = now
                    if not stream.first_ns:
                        stream.first_ns = now
                    self._on_head(stream, event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                stream = streams.get(event.stream_id)
                if stream is not None:
                    self._complete(stream)
            elif isinstance(event, h2.events.InformationalResponseReceived):
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.last_ns = now
                    if not stream.first_ns:
                        stream.first_ns = now
            elif isinstance(event, h2.events.StreamReset):
                stream = streams.get(event.stream_id)
                if stream is not None:
                    code = _code_name(event.error_code)
                    self._drop(stream)
                    self._finish_error(
                        stream,
                        ErrorKind.RESET,
                        f"{self.where}: the server reset the stream ({code})",
                    )
            elif isinstance(event, h2.events.WindowUpdated):
                self._on_window(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._on_goaway(event)
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self._settled = True
                self._drain()
                pool = self.pool
                if isinstance(pool, Http2Pool):
                    pool.freed(self)
        self._flush()

    def eof_received(self) -> bool:
        self._fail_all(ErrorKind.CLOSED, f"{self.where}: closed before a full response")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._fail_all(ErrorKind.CLOSED, f"{self.where}: closed before a full response")
        else:
            self._fail_all(error_kind(exc), transport_error(exc, self.where).message)
        self.state = _CLOSED
        self._transport = None
        if self.on_lost is not None:
            self.on_lost(self)
        waiter = self._closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for stream in list(self._streams.values()):
            if stream.pending or stream.uploading is not None:
                self._send_body(stream)
        self._flush()

    # -- internals -----------------------------------------------------------------------------

    def _flush(self) -> None:
        out = self._h2.data_to_send()
        transport = self._transport
        if out and transport is not None and not transport.is_closing():
            transport.write(out)

    def _reset(self, stream_id: int) -> None:
        try:
            self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        except h2.exceptions.H2Error:
            return
        self._flush()

    def _send_body(self, stream: _Stream) -> None:
        """Send what the flow-control windows allow of the body, reading an upload on."""
        h2conn = self._h2
        stream_id = stream.stream_id
        while not self._paused:
            if not stream.pending:
                reader = stream.uploading
                if reader is None:
                    return
                try:
                    chunk = reader.next_chunk()
                except UploadError as error:
                    reader.close()
                    stream.uploading = None
                    self._drop(stream)
                    self._reset(stream_id)
                    self._finish_error(stream, ErrorKind.OTHER, f"{self.where}: upload: {error}")
                    return
                if not chunk:
                    reader.close()
                    stream.uploading = None
                    self._end_stream(stream)
                    return
                stream.pending = chunk
                stream.sent += len(chunk)
            try:
                window = h2conn.local_flow_control_window(stream_id)
            except h2.exceptions.H2Error:
                return  # the stream closed meanwhile (reset, answered)
            size = min(window, h2conn.max_outbound_frame_size, len(stream.pending))
            if size <= 0:
                return  # on with the rest at the next WINDOW_UPDATE
            piece = stream.pending[:size]
            stream.pending = stream.pending[size:]
            try:
                h2conn.send_data(stream_id, piece)
            except h2.exceptions.H2Error:
                return
            stream.last_ns = stream.sent_ns = monotonic_ns()
            if not stream.pending and stream.uploading is None:
                self._end_stream(stream)
                return

    def _end_stream(self, stream: _Stream) -> None:
        try:
            self._h2.end_stream(stream.stream_id)
        except h2.exceptions.H2Error:
            return
        stream.sent_ns = monotonic_ns()

    def _on_window(self, stream_id: int) -> None:
        if stream_id:
            stream = self._streams.get(stream_id)
            if stream is not None and (stream.pending or stream.uploading is not None):
                self._send_body(stream)
            return
        for stream in list(self._streams.values()):
            if stream.pending or stream.uploading is not None:
                self._send_body(stream)

    def _on_head(self, stream: _Stream, headers: list[tuple[bytes, bytes]]) -> None:
        status = 0
        lines = [b""]
        for name, value in headers:
            if name == b":status":
                status = int(value)
            elif not name.startswith(b":"):
                lines.append(name + b": " + value + b"\r\n")
        lines[0] = b"HTTP/2 %d\r\n" % status
        lines.append(b"\r\n")
        stream.status = status
        stream.head = b"".join(lines)
        stream.received += len(stream.head)

    def _on_data(self, stream: _Stream, data: bytes) -> None:
        stream.received += len(data)
        room = stream.room - len(data)
        stream.room = room
        if room >= 0:
            stream.body.append(data)
            return
        stream.truncated = True
        fits = len(data) + room
        if fits > 0:
            stream.body.append(data[:fits])

    def _complete(self, stream: _Stream) -> None:
        if stream.stream_id not in self._streams:
            return
        self._drop(stream)
        if stream.pending or stream.uploading is not None:  # answered before the body was sent
            if stream.uploading is not None:
                stream.uploading.close()
                stream.uploading = None
            stream.pending = b""
            self._reset(stream.stream_id)
        response = Response(
            stream.status,
            stream.head,
            b"".join(stream.body),
            stream.sent,
            stream.received,
            stream.start_ns,
            stream.connected_ns,
            stream.sent_ns,
            stream.first_ns,
            stream.last_ns,
            stream.reused,
            stream.truncated,
        )
        waiter = stream.waiter
        if isinstance(waiter, ResponseWaiter):
            waiter.on_response(response)
        elif not waiter.done():
            waiter.set_result(response)

    def _drop(self, stream: _Stream) -> None:
        """Forget a stream that ended; its place goes to the pool's next waiter."""
        if self._streams.pop(stream.stream_id, None) is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
            stream.timer = None
        if self._backlog:
            self._drain()
        pool = self.pool
        if isinstance(pool, Http2Pool):
            pool.freed(self)

    def _finish_error(self, stream: _Stream, kind: ErrorKind, message: str) -> None:
        if stream.uploading is not None:
            stream.uploading.close()
            stream.uploading = None
        timings = Timings(
            stream.start_ns,
            stream.connected_ns,
            stream.sent_ns,
            stream.first_ns,
            monotonic_ns(),
            stream.reused,
        )
        waiter = stream.waiter
        if isinstance(waiter, ResponseWaiter):
            waiter.on_error(TransportError(kind, message, timings))
        elif not waiter.done():
            waiter.set_exception(TransportError(kind, message, timings))

    def _on_stream_timer(self, stream: _Stream) -> None:
        stream.timer = None
        if self._streams.get(stream.stream_id) is not stream:
            return
        now = monotonic_ns()
        if now >= stream.deadline_ns - _SLACK_NS:
            kind, message = ErrorKind.TOTAL_TIMEOUT, "no full response in total time"
        elif now - stream.last_ns >= stream.read_ns - _SLACK_NS:
            kind, message = ErrorKind.READ_TIMEOUT, "nothing received in read time"
        else:
            due = min(stream.last_ns + stream.read_ns, stream.deadline_ns)
            stream.timer = self._loop.call_later((due - now) / 1e9, self._on_stream_timer, stream)
            return
        self._drop(stream)
        self._reset(stream.stream_id)
        self._finish_error(stream, kind, f"{self.where}: {message}")

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """No new stream here; the streams the server did not process fail `closed`."""
        self.state = _CLOSED  # the pool hands it out no more
        last = event.last_stream_id if event.last_stream_id is not None else 0
        code = _code_name(event.error_code or 0)
        for stream in list(self._streams.values()):
            if stream.stream_id > last:
                self._drop(stream)
                self._finish_error(
                    stream,
                    ErrorKind.CLOSED,
                    f"{self.where}: the server went away (GOAWAY {code}) before processing it",
                )
        self._fail_backlog(
            ErrorKind.CLOSED,
            f"{self.where}: the server went away (GOAWAY {code}) before it was sent",
        )
        pool = self.pool
        if isinstance(pool, Http2Pool):
            pool.gone(self)
        if not self._streams and self._transport is not None:
            self._transport.close()

    def _fail_all(self, kind: ErrorKind, message: str) -> None:
        """Fail every stream in flight and close the connection for good."""
        self.state = _CLOSED
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        streams = list(self._streams.values())
        pool = self.pool
        for stream in streams:
            self._drop(stream)
        for stream in streams:
            self._finish_error(stream, kind, message)
        self._fail_backlog(kind, message)
        if isinstance(pool, Http2Pool):
            pool.gone(self)

    def _fail_backlog(self, kind: ErrorKind, message: str) -> None:
        backlog = self._backlog
        while backlog:
            stream = backlog.popleft()
            if stream.timer is not None:
                stream.timer.cancel()
                stream.timer = None
            self._finish_error(stream, kind, message)


def _code_name(code: int) -> str:
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"error code {code}"


class Http2Pool(Pool):
    """The HTTP/2 connections of one origin: a request takes a free stream on one of them.

    A new connection is opened only when every connection is full, and one at a time: while it
    opens, the requests that find no stream free wait in line for it (`wait`), and are handed
    it as far as its free streams go (once its SETTINGS say how many); if requests are still
    waiting then, the first of them opens the next connection. The pool has no bound of its
    own (`limit` is None, so the client's fast path applies); `max_streams` bounds each
    connection.
    """

    __slots__ = ("_h2conns", "_opening", "max_streams", "scheme_authority")

    def __init__(self, max_streams: int, scheme: str, authority: bytes) -> None:
        super().__init__(None)
        self.max_streams = max_streams
        self.scheme_authority = (scheme, authority)
        self._h2conns: list[Http2Connection] = []
        self._opening = False

    def new_connection(self, loop: asyncio.AbstractEventLoop, where: str) -> Connection:
        scheme, authority = self.scheme_authority
        return Http2Connection(loop, where, scheme, authority, self.max_streams)

    def alpn(self) -> str:
        return "h2"

    @property
    def idle_count(self) -> int:
        """Connections with a stream free (what "idle" means to the open model's dispatch)."""
        return sum(1 for conn in self._h2conns if conn.free_streams() > 0)

    def take_idle(self) -> Connection | None:
        for conn in self._h2conns:
            if conn.free_streams() > 0:
                return conn
        return None

    def reserve(self) -> bool:
        """Open a new connection unless one is opening already (then wait for it)."""
        if self._opening:
            return False
        self._opening = True
        return True

    def add(self, conn: Connection) -> None:
        super().add(conn)
        self._opening = False
        if isinstance(conn, Http2Connection):
            self._h2conns.append(conn)
            conn.promised += 1  # the request that opened it
            self.freed(conn)

    def put(self, conn: Connection) -> None:
        """A connection handed to a waiter that left (or warmed up): its promise is void."""
        if isinstance(conn, Http2Connection):
            if conn.promised > 0:
                conn.promised -= 1
            self.freed(conn)

    def release_slot(self) -> None:
        """An opening failed: the next in line opens one itself."""
        self._opening = False
        self._wake_opener()

    def freed(self, conn: Http2Connection) -> None:
        """A stream of `conn` ended (or its limits grew): hand its free streams to waiters."""
        waiters = self._waiters
        while waiters and conn.free_streams() > 0:
            waiter = waiters.popleft()
            if not waiter.done():
                conn.promised += 1
                waiter.set_result(conn)
        if waiters and conn.settled and not self._opening:
            self._wake_opener()  # still more requests than streams: the next in line opens one

    def gone(self, conn: Http2Connection) -> None:
        """`conn` takes no new streams: forget it; a waiter opens another if none is opening."""
        if conn in self._h2conns:
            self._h2conns.remove(conn)
        if not self._opening:
            self._wake_opener()

    def _wake_opener(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self._opening = True
                waiter.set_result(None)
                return

    def _lost(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if isinstance(conn, Http2Connection):
            self.gone(conn)
