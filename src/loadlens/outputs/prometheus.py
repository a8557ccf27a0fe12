"""`--prometheus [HOST:]PORT`: the run's numbers in the Prometheus exposition format, live.

How it works. `PrometheusExporter` is a RunListener: the coordinator calls it from its own
loop (about ten times a second), and at most once a second (and at each stage's start and
end) it reads the RunAccumulator there, in the coordinator's thread, and turns what it read
into a `Snapshot`: plain tuples of labels and numbers. The snapshot is swapped in under a
lock. prometheus_client's HTTP server runs in a daemon thread of the coordinator process
(never in a worker) and asks a custom Collector, which serves the last snapshot and never
touches the accumulator, so a scrape can neither race the merge of frames nor slow it.
Stages already finished keep their last numbers: their counters stay where they ended.

Labels come from the scenario: stage and operation names are the reports' names, and an
outcome is the result's outcome key (`ok:200`, `status:503`, `error:timeout`), bounded by
status codes and error kinds. The target in `loadlens_run_info` is redacted as the reports
redact it (secret values and URL passwords masked).

`close` shuts the server down and closes its socket; the CLI calls it once the reports are
written, and the daemon thread cannot keep the process alive after that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadlens.errors import UsageError
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.result import StageInfo

_SNAPSHOT_EVERY_S = (
    1.0  # frames arrive once a second: reading the accumulator more often shows nothing new
)
_QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))
_DEFAULT_HOST = "127.0.0.1"  # never every interface unless asked

Labels = tuple[str, ...]
Rows = tuple[tuple[Labels, float], ...]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as served: its kind, help text, label names and samples."""

    name: str
    kind: str  # "counter" or "gauge"
    documentation: str
    labels: tuple[str, ...]
    rows: Rows


@dataclass(frozen=True, slots=True)
class RunLabels:
    """What `loadlens_run_info` says about the run."""

    run_id: Callable[[], str | None]  # known once the run has begun
    scenario: str
    target: str  # already redacted


@dataclass(slots=True)
class _StageNumbers:
    """One stage's last numbers, each a family name -> rows."""

    rows: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)

    def add(self, family: str, labels: Labels, value: float) -> None:
        self.rows.setdefault(family, []).append((labels, value))


# name, kind, help, label names: the order they are served in (documented in docs/outputs.md)
_FAMILIES = (
    ("loadlens_requests", "counter", "Requests by outcome", ("stage", "operation", "outcome")),
    (
        "loadlens_latency_seconds",
        "gauge",
        "Latency quantiles of the stage so far",
        ("stage", "operation", "quantile"),
    ),
    (
        "loadlens_requests_per_second",
        "gauge",
        "Requests per second over the last reported second",
        ("stage", "operation"),
    ),
    (
        "loadlens_error_ratio",
        "gauge",
        "Non-ok requests / requests in the stage so far",
        ("stage", "operation"),
    ),
    ("loadlens_sent_bytes", "counter", "Bytes sent", ("stage", "operation")),
    ("loadlens_received_bytes", "counter", "Bytes received", ("stage", "operation")),
    (
        "loadlens_generator_cpu_percent",
        "gauge",
        "CPU of the worker processes in the last reported second, summed (100 = one core)",
        ("stage",),
    ),
    (
        "loadlens_generator_loop_lag_seconds",
        "gauge",
        "Largest event-loop lag of any worker in the last reported second",
        ("stage",),
    ),
    ("loadlens_in_flight", "gauge", "Iterations in flight at the last frame", ("stage",)),
    ("loadlens_users", "gauge", "Active virtual users (closed model)", ("stage",)),
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one scrape serves; built in the coordinator's thread, read in the server's."""

    families: tuple[Family, ...] = ()


class _SnapshotCollector(Collector):
    """Serves the last snapshot; reads nothing else."""

    def __init__(self, exporter: PrometheusExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterator[Metric]:
        for family in self._exporter.snapshot().families:
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


class PrometheusExporter:
    """A RunListener that serves the run's numbers on HOST:PORT until `close`."""

    def __init__(
        self,
        host: str,
        port: int,
        run: RunLabels,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.run = run
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._stages: dict[int, _StageNumbers] = {}  # coordinator thread only
        self._current: StageInfo | None = None
        self._elapsed = 0.0
        self._last = float("-inf")
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
        self._publish()
        return self.port

    def close(self) -> None:
        """Stop serving and close the port; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def snapshot(self) -> Snapshot:
        """The numbers the last scrape-able moment held."""
        with self._lock:
            return self._snapshot

    # RunListener

    def stage_started(self, info: StageInfo) -> None:
        self._current = info
        self._elapsed = 0.0
        self._stages.setdefault(info.index, _StageNumbers())
        self._publish()

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        now = self._clock()
        if now - self._last < _SNAPSHOT_EVERY_S:
            return
        self._last = now
        self._elapsed = elapsed
        self._stages[info.index] = _read_stage(info, accumulator, running=True)
        self._publish()

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        self._stages[info.index] = _read_stage(info, accumulator, running=False)
        self._publish()

    def _publish(self) -> None:
        snapshot = Snapshot(self._families())
        with self._lock:
            self._snapshot = snapshot

    def _families(self) -> tuple[Family, ...]:
        families = []
        for name, kind, documentation, labels in _FAMILIES:
            rows = tuple(
                row
                for index in sorted(self._stages)
                for row in self._stages[index].rows.get(name, ())
            )
            families.append(Family(name, kind, documentation, labels, rows))
        run_id = self.run.run_id() or ""
        families.append(
            Family(
                "loadlens_run_info",
                "gauge",
                "The run: always 1, its facts in the labels",
                ("run_id", "scenario", "target"),
                (((run_id, self.run.scenario, self.run.target), 1.0),),
            )
        )
        current = self._current
        if current is not None:
            families.append(
                Family(
                    "loadlens_stage",
                    "gauge",
                    "The stage running now (or last): its index in the result",
                    ("stage",),
                    (((current.name,), float(current.index)),),
                )
            )
            families.append(
                Family(
                    "loadlens_stage_elapsed_seconds",
                    "gauge",
                    "Seconds since the current stage started",
                    ("stage",),
                    (((current.name,), self._elapsed),),
                )
            )
            families.append(
                Family(
                    "loadlens_stage_planned_seconds",
                    "gauge",
                    "The current stage's ramp plus duration (0 when bounded by iterations only)",
                    ("stage",),
                    (((current.name,), current.duration_s + current.ramp_s),),
                )
            )
        return tuple(families)


def _read_stage(info: StageInfo, accumulator: RunAccumulator, *, running: bool) -> _StageNumbers:
    """One stage's numbers, read from the accumulator (in the coordinator's thread)."""
    numbers = _StageNumbers()
    stage = info.name
    live = accumulator.live_view(info.index)
    for name, stats in accumulator.stage_ops(info.index).items():
        for outcome, count in sorted(stats.outcomes.items()):
            numbers.add("loadlens_requests", (stage, name, outcome), float(count))
        for quantile, attribute in _QUANTILES:
            value = getattr(stats.latency, attribute) / 1000.0
            numbers.add("loadlens_latency_seconds", (stage, name, quantile), value)
        op = live.ops.get(name)
        rate = op.rps if op is not None and running else 0.0
        numbers.add("loadlens_requests_per_second", (stage, name), rate)
        numbers.add("loadlens_error_ratio", (stage, name), stats.error_rate)
        numbers.add("loadlens_sent_bytes", (stage, name), float(stats.bytes_sent))
        numbers.add("loadlens_received_bytes", (stage, name), float(stats.bytes_received))
    health = live.health
    numbers.add("loadlens_generator_cpu_percent", (stage,), health.cpu_percent)
    numbers.add("loadlens_generator_loop_lag_seconds", (stage,), health.loop_lag_ms / 1000.0)
    numbers.add("loadlens_in_flight", (stage,), float(health.in_flight if running else 0))
    numbers.add("loadlens_users", (stage,), float(health.users if running else 0))
    return numbers


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
