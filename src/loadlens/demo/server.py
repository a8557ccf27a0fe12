"""Running the demo service: in a child process for tests and benchmarks, or in the foreground.

How it works: `DemoServer.start` spawns a fresh interpreter (the spawn context, so nothing of
the parent's state, threads or event loop leaks into it). The child binds the listening socket
itself on a free port, builds the app, reports the real port (or why it could not start) back
through a pipe, and hands the socket to uvicorn. The parent then polls /health until the service
answers. `stop` sends SIGTERM, which uvicorn turns into a graceful shutdown, and kills the child
if it has not exited in time.
"""

from __future__ import annotations

import http.client
import multiprocessing
import socket
import time
from collections.abc import Callable, Collection
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from starlette.applications import Starlette

from loadlens.demo.app import create_app
from loadlens.demo.faults import Faults

HOST = "127.0.0.1"
# uvicorn's graceful shutdown waits for open requests this long before closing them.
GRACEFUL_SHUTDOWN_S = 3
STOP_TIMEOUT_S = 5.0
_POLL_INTERVAL_S = 0.02


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    # Listening from here on, so a client that connects as soon as the URL is printed is
    # queued until uvicorn accepts, not refused (uvicorn listens again on the same socket).
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run(sock: socket.socket, app: Starlette) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_forever(
    host: str,
    port: int,
    data_dir: Path,
    faults: Collection[str],
    *,
    on_ready: Callable[[str], None] | None = None,
    **app_options: Any,
) -> None:
    """Serve the demo in this process until interrupted.

    Ctrl-C (or SIGTERM) shuts the server down gracefully; uvicorn then re-raises the signal,
    so Ctrl-C ends in KeyboardInterrupt for the caller to map to its exit code (130).

    `on_ready` is called with the base URL once the socket is bound, before serving: with
    port 0 that is the only way to learn the port.
    """
    Faults.parse(faults)
    with _bind(host, port) as sock:
        if on_ready is not None:
            on_ready(f"http://{host}:{sock.getsockname()[1]}")
        _run(sock, create_app(data_dir, faults=faults, **app_options))


def _child(report: Connection, data_dir: Path, faults: tuple[str, ...], options: Any) -> None:
    # Bind and build the app before reporting, so that any failure to start reaches the parent
    # as a message rather than as a traceback on the child's stderr.
    try:
        sock = _bind(HOST, 0)
    except OSError as exc:
        report.send(("error", f"cannot bind {HOST}: {exc}"))
        report.close()
        return
    with sock:
        try:
            app = create_app(data_dir, faults=faults, **options)
        except Exception as exc:
            report.send(("error", f"cannot start the demo service: {type(exc).__name__}: {exc}"))
            report.close()
            return
        report.send(("port", sock.getsockname()[1]))
        report.close()
        _run(sock, app)


class DemoServer:
    """The demo app under uvicorn in a child process, on 127.0.0.1 and a free port."""

    def __init__(self, data_dir: Path, *, faults: Collection[str] = (), **app_options: Any) -> None:
        Faults.parse(faults)
        self.data_dir = Path(data_dir)
        self._faults = tuple([faults] if isinstance(faults, str) else faults)
        self._options = app_options
        self._process: multiprocessing.process.BaseProcess | None = None
        self.pid: int | None = None
        self.url: str | None = None
        self.port: int | None = None

    def start(self, timeout: float = 15.0) -> str:
        """Start the service and wait until /health answers; the base URL."""
        if self._process is not None:
            raise RuntimeError("the demo server is already started")
        deadline = time.monotonic() + timeout
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(sender, self.data_dir, self._faults, self._options),
            name="loadlens-demo",
            daemon=True,
        )
        self._process = process
        try:
            with receiver:
                process.start()
                sender.close()
                self.pid = process.pid
                if not receiver.poll(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"the demo server did not bind within {timeout} s")
                try:
                    kind, value = receiver.recv()
                except EOFError:
                    process.join(STOP_TIMEOUT_S)
                    raise RuntimeError(
                        f"the demo server exited with code {process.exitcode} before binding"
                    ) from None
            if kind != "port":
                raise RuntimeError(str(value))
            self.port = int(value)
            self.url = f"http://{HOST}:{self.port}"
            self._wait_healthy(deadline, timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_healthy(self, deadline: float, timeout: float) -> None:
        assert self._process is not None and self.port is not None
        while True:
            if not self._process.is_alive():
                raise RuntimeError(
                    f"the demo server exited with code {self._process.exitcode} while starting"
                )
            conn = http.client.HTTPConnection(HOST, self.port, timeout=1.0)
            try:
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the demo server did not answer /health within {timeout} s")
            time.sleep(_POLL_INTERVAL_S)

    def stop(self) -> None:
        """Stop the service: SIGTERM, then SIGKILL after a timeout. Safe to call again."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.pid is None:  # never started: nothing to stop
            process.close()
            return
        if process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join()
        else:
            process.join()
        process.close()
        self.url = None
        self.pid = None

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
