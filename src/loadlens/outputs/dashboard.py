"""`--dashboard [HOST:]PORT`: a live web page of the run, updated every second.

How it works. A Starlette app served by uvicorn on a daemon thread of the coordinator process
(never in a worker), with its own event loop: the coordinator's loop never waits on it. The
numbers come from `DashboardState` (see `dashboard_state`), which the coordinator feeds as a
RunListener; the server reads only its last published JSON text. Routes:

- `/`: the page (`dashboard_page.PAGE`: one self-contained HTML file, no network);
- `/events`: Server-Sent Events, one `state` event per published state (about once a second),
  each with its sequence number as the event id; the stream ends after the final state;
- `/state`: the last state as JSON;
- `/history`: the charts' points so far (a page opened late draws them first);
- `/report`: report.html once the reports are written (404 before).

The socket is bound before the thread starts, so a busy port is a usage error at start-up and
port 0 gives the chosen port at once. `close` publishes nothing itself: the CLI calls
`report_written` first, waits for open streams to have the final state (briefly), then stops
the server and joins its thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from loadlens.errors import UsageError
from loadlens.outputs.dashboard_page import PAGE
from loadlens.outputs.dashboard_state import DashboardState, LiveGates, PlannedStage
from loadlens.outputs.snapshot import RunLabels

_POLL_S = 0.2  # how often a stream looks for a new state: states come once a second
_START_TIMEOUT_S = 10.0  # uvicorn starts in milliseconds; a bound, not a wait
_DRAIN_S = 1.5  # at the end, how long open streams get to send the final state
_STOP_TIMEOUT_S = 5.0  # joining the server's thread
_RETRY_MS = 1000  # EventSource reconnects after this if a stream breaks


class Dashboard(DashboardState):
    """A RunListener that serves the live dashboard on HOST:PORT until `close`."""

    def __init__(
        self,
        host: str,
        port: int,
        run: RunLabels,
        plan: Sequence[PlannedStage],
        *,
        gates: LiveGates | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(run, plan, gates=gates, clock=clock)
        self.host = host
        self.requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._streams = 0  # open event streams (server thread only)
        self._report_path: Path | None = None

    @property
    def url(self) -> str:
        """The page's address (after `start`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> str:
        """Listen and serve from a daemon thread; the page's URL (with the chosen port)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as error:
            sock.close()
            raise UsageError(
                f"--dashboard cannot listen on {self.host}:{self.requested_port}: "
                f"{error.strerror or error}",
                hint="pick a free port, or 0 for any",
            ) from None
        sock.listen(64)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="loadlens-dashboard", daemon=True
        )
        self._server, self._thread = server, thread
        self.publish()
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.url

    def report_written(self, report: str | None) -> None:
        self._report_path = Path(report) if report is not None else None
        super().report_written(report)

    def close(self) -> None:
        """Let open pages have the final state, stop serving and close the port; safe to call
        twice."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is None or thread is None:
            return
        if not self.published().final:
            self.publish(final=True)
        deadline = time.monotonic() + _DRAIN_S
        while self._streams and time.monotonic() < deadline:
            time.sleep(0.05)
        server.should_exit = True
        thread.join(timeout=_STOP_TIMEOUT_S)

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self._page),
                Route("/events", self._events),
                Route("/state", self._state),
                Route("/history", self._history_points),
                Route("/report", self._report_file),
            ]
        )

    async def _page(self, request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"cache-control": "no-store"})

    async def _state(self, request: Request) -> Response:
        return Response(
            self.published().text,
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )

    async def _history_points(self, request: Request) -> Response:
        return Response(
            self.history(), media_type="application/json", headers={"cache-control": "no-store"}
        )

    async def _report_file(self, request: Request) -> Response:
        path = self._report_path
        if path is None or not path.is_file():
            return Response("the report is not written yet\n", status_code=404)
        return FileResponse(path, media_type="text/html")

    async def _events(self, request: Request) -> Response:
        return StreamingResponse(
            self._stream(request),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def _stream(self, request: Request) -> AsyncIterator[str]:
        """Each new state once, as an SSE `state` event; ends after the final one."""
        self._streams += 1
        try:
            yield f"retry: {_RETRY_MS}\n\n"
            sent = 0
            while True:
                published = self.published()
                if published.seq != sent:
                    sent = published.seq
                    yield f"event: state\nid: {sent}\ndata: {published.text}\n\n"
                    if published.final:
                        return
                await anyio.sleep(_POLL_S)
        finally:
            self._streams -= 1


def parse_dashboard_address(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` (`[::1]:8089` for IPv6) as (host, port); 127.0.0.1 when no host."""
    from loadlens.outputs.prometheus import parse_listen_address

    try:
        return parse_listen_address(text)
    except UsageError:
        raise UsageError(
            f"--dashboard wants [HOST:]PORT with a port from 0 to 65535, not {text!r}",
            hint="e.g. --dashboard 8089 or --dashboard 127.0.0.1:0 (any free port)",
        ) from None
