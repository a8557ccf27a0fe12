"""`--prometheus [HOST:]PORT`: the run's numbers in the Prometheus exposition format, live.

prometheus_client's HTTP server runs in a daemon thread of the coordinator process (never in
a worker) and asks a custom Collector, which serves the last `Snapshot` (see `snapshot`) and
never touches the accumulator. `close` shuts the server down and closes its socket; the CLI
calls it once the reports are written, and the daemon thread cannot keep the process alive
after that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadlens.errors import UsageError
from loadlens.outputs.snapshot import RunLabels, Snapshots

_DEFAULT_HOST = "127.0.0.1"  # never every interface unless asked


class _SnapshotCollector(Collector):
    """Serves the last snapshot; reads nothing else."""

    def __init__(self, snapshots: Snapshots) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        for family in self._snapshots.snapshot().families:
            metric: CounterMetricFamily | GaugeMetricFamily
            if family.kind == "counter":
                metric = CounterMetricFamily(
                    family.name, family.documentation, labels=family.labels
                )
            else:
                metric = GaugeMetricFamily(family.name, family.documentation, labels=family.labels)
            for labels, value in family.rows:
                metric.add_metric(list(labels), value)
            yield metric


class PrometheusExporter(Snapshots):
    """A RunListener that serves the run's numbers on HOST:PORT until `close`."""

    def __init__(
        self,
        host: str,
        port: int,
        run: RunLabels,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(run, clock=clock)
        self.host = host
        self.requested_port = port
        self._server: WSGIServer | None = None
        self.port = 0

    def start(self) -> int:
        """Listen and serve from a daemon thread; the port (the chosen one for port 0)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_SnapshotCollector(self))
        try:
            server, _thread = start_http_server(self.requested_port, self.host, registry)
        except OSError as error:
            raise UsageError(
                f"--prometheus cannot listen on {self.host}:{self.requested_port}: "
                f"{error.strerror or error}",
                hint="pick a free port, or 0 for any",
            ) from None
        self._server = server
        self.port = int(server.server_port)
        self.publish()
        return self.port

    def close(self) -> None:
        """Stop serving and close the port; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def parse_listen_address(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` (`[::1]:9000` for IPv6) as (host, port); 127.0.0.1 when no host."""
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]") or _DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(
            f"--prometheus wants [HOST:]PORT with a port from 0 to 65535, not {text!r}",
            hint="e.g. --prometheus 9464 or --prometheus 127.0.0.1:0 (any free port)",
        )
    return host, port
