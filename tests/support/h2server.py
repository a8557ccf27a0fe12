"""A small HTTP/2 server for the tests: `h2` on asyncio in a thread, on 127.0.0.1 port 0.

It speaks h2c (prior knowledge) on a plain socket, or HTTP/2 over TLS with ALPN `h2` and a
self-signed certificate made by `trustme` for the test. It counts what it served (requests by
path, connections, the most streams open at once on one connection) for the tests to compare
with what loadlens counted.

Routes: `/item/N` (JSON `{"id": N}`, after `delay` seconds), `/status/N`, `/login` (sets a
cookie) and `/me` (401 without it), `/gzip` (a gzip JSON body), `/redirect` (302 to
`/item/7`), `/big` (`big` bytes, to go past the flow-control windows), `POST /echo` (the
sha256 of the body), `/reset` (RST_STREAM) and `/goaway` (GOAWAY, stream not processed).
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import hashlib
import json
import ssl
import threading
from types import TracebackType

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings


class H2Server:
    """Serves HTTP/2 until closed; use as a context manager (then `url` is its base URL)."""

    def __init__(
        self,
        *,
        tls: bool = False,
        alpn: tuple[str, ...] = ("h2",),
        max_streams: int = 100,
        delay: float = 0.0,
        big: int = 1 << 20,
    ) -> None:
        self.tls = tls
        self.alpn = alpn
        self.max_streams = max_streams
        self.delay = delay
        self.big = big
        self.requests: collections.Counter[str] = collections.Counter()
        self.connections = 0
        self.most_streams = 0  # the most streams open at once on one connection
        self.bodies: list[int] = []  # the size of each POST body received
        self.last_body = b""  # the last POST body received, whole
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0
        self.url = ""

    def __enter__(self) -> H2Server:
        context = None
        if self.tls:
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            cert.configure_cert(context)
            context.set_alpn_protocols(list(self.alpn))
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context), self._loop
        )
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        conn = h2.connection.H2Connection(config=config)
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams},
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        pending: dict[int, bytes] = {}  # response bodies waiting for the window
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (event.headers, bytearray())
                        self.most_streams = max(self.most_streams, len(streams))
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams[event.stream_id]
                        asyncio.get_running_loop().create_task(
                            self._answer(
                                conn,
                                writer,
                                event.stream_id,
                                headers,
                                bytes(body),
                                streams,
                                pending,
                            )
                        )
                    elif isinstance(event, h2.events.WindowUpdated):
                        self._send_pending(conn, pending)
                    elif isinstance(event, h2.events.StreamReset):
                        streams.pop(event.stream_id, None)
                        pending.pop(event.stream_id, None)
                writer.write(conn.data_to_send())
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(
        self,
        conn: h2.connection.H2Connection,
        writer: asyncio.StreamWriter,
        stream_id: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        streams: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]],
        pending: dict[int, bytes],
    ) -> None:
        fields = dict(headers)
        path = fields[b":path"].decode()
        self.requests[path] = self.requests[path] + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        status, extra, content = 200, [(b"content-type", b"application/json")], b"{}"
        if path.startswith("/item/"):
            content = json.dumps({"id": int(path.rsplit("/", 1)[1])}).encode()
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
        elif path == "/login":
            extra.append((b"set-cookie", b"session=s3cret; Path=/"))
        elif path == "/me":
            if b"session=s3cret" not in fields.get(b"cookie", b""):
                status = 401
            content = json.dumps({"user": "alice" if status == 200 else None}).encode()
        elif path == "/gzip":
            content = gzip.compress(json.dumps({"zipped": True}).encode())
            extra.append((b"content-encoding", b"gzip"))
        elif path == "/redirect":
            status = 302
            extra.append((b"location", b"/item/7"))
        elif path == "/big":
            content = b"x" * self.big
        elif path == "/echo":
            self.bodies.append(len(body))
            self.last_body = body
            content = json.dumps({"sha256": hashlib.sha256(body).hexdigest()}).encode()
        elif path == "/reset":
            streams.pop(stream_id, None)
            conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            writer.write(conn.data_to_send())
            return
        elif path == "/goaway":
            conn.close_connection(h2.errors.ErrorCodes.NO_ERROR, last_stream_id=stream_id - 2)
            writer.write(conn.data_to_send())
            return
        streams.pop(stream_id, None)
        response = [(b":status", str(status).encode()), *extra]
        response.append((b"content-length", str(len(content)).encode()))
        conn.send_headers(stream_id, response, end_stream=not content)
        if content:
            pending[stream_id] = content
            self._send_pending(conn, pending)
        writer.write(conn.data_to_send())

    @staticmethod
    def _send_pending(conn: h2.connection.H2Connection, pending: dict[int, bytes]) -> None:
        for stream_id, body in list(pending.items()):
            rest = body
            while rest:
                window = min(
                    conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size
                )
                if window <= 0:
                    break
                conn.send_data(stream_id, rest[:window], end_stream=len(rest) <= window)
                rest = rest[window:]
            if rest:
                pending[stream_id] = rest
            else:
                del pending[stream_id]
