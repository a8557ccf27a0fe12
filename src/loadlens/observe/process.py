"""A local process by pid, pid file or listening port: CPU, memory, threads, files, connections."""

from __future__ import annotations

from pathlib import Path

import psutil

from loadlens.model.observation import ProcessTarget
from loadlens.observe.source import SourceError

STATS = ("cpu_percent", "rss_bytes", "threads", "open_files", "connections")


class ProcessSource:
    """Reads one local process; finds it again (by pid file or port) if it restarts."""

    def __init__(self, target: ProcessTarget, prefix: str) -> None:
        self.target = target
        self.prefix = prefix
        self.description = f"process {_describe(target)}"
        self.names = [f"{prefix}_{stat}" for stat in STATS]
        self._process: psutil.Process | None = None

    def read(self, now: float) -> dict[str, float]:
        """This sample's process stats; raises SourceError when the process cannot be read."""
        process = self._process
        if process is None or not process.is_running():
            process = self._process = self._find()
            process.cpu_percent(None)  # the first call only starts the CPU clock
        try:
            with process.oneshot():
                values = {
                    "cpu_percent": process.cpu_percent(None),
                    "rss_bytes": float(process.memory_info().rss),
                    "threads": float(process.num_threads()),
                    "open_files": float(len(process.open_files())),
                    "connections": float(len(process.net_connections(kind="inet"))),
                }
        except psutil.Error as error:
            self._process = None
            raise SourceError(f"cannot read {self.description}: {_psutil_reason(error)}") from None
        return {f"{self.prefix}_{stat}": value for stat, value in values.items()}

    def _find(self) -> psutil.Process:
        pid = self._pid()
        try:
            return psutil.Process(pid)
        except psutil.Error as error:
            raise SourceError(f"no process {pid}: {_psutil_reason(error)}") from None

    def _pid(self) -> int:
        target = self.target
        if target.pid is not None:
            return target.pid
        if target.pidfile is not None:
            try:
                return int(Path(target.pidfile).read_text().strip())
            except (OSError, ValueError) as error:
                raise SourceError(f"cannot read pid file {target.pidfile}: {error}") from None
        assert target.port is not None
        try:
            port = int(target.port)
        except ValueError:
            raise SourceError(f"not a port: {target.port}") from None
        return _listener(port)


def _listener(port: int) -> int:
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error as error:
        raise SourceError(f"cannot list listening sockets: {_psutil_reason(error)}") from None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                raise SourceError(f"the process listening on port {port} is not visible")
            return conn.pid
    raise SourceError(f"no process listens on port {port}")


def _describe(target: ProcessTarget) -> str:
    if target.pid is not None:
        return f"pid {target.pid}"
    if target.pidfile is not None:
        return f"pidfile {target.pidfile}"
    return f"port {target.port}"


def _psutil_reason(error: psutil.Error) -> str:
    if isinstance(error, psutil.NoSuchProcess):
        return "the process has exited"
    if isinstance(error, psutil.AccessDenied):
        return "access denied"
    return str(error) or type(error).__name__
