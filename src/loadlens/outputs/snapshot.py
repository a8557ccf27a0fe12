"""The numbers every live output serves, read from the coordinator's merge once a second.

How it works. `Snapshots` is a RunListener: the coordinator calls it from its own loop (about
ten times a second), and at most once a second (and at each stage's start and end) it reads
the RunAccumulator there, in the coordinator's thread, and turns what it read into a
`Snapshot`: plain tuples of labels and numbers, one `Family` per metric. The snapshot is
swapped in under a lock; an output's own thread (prometheus_client's HTTP server, the
OpenTelemetry SDK's export loop) reads only the last snapshot, never the accumulator, so it can
neither race the merge of frames nor slow it. Stages already finished keep their last
numbers: their counters stay where they ended.

Labels come from the scenario: stage and operation names are the reports' names, and an
outcome is the result's outcome key (`ok:200`, `status:503`, `error:timeout`), bounded by
status codes and error kinds. The target in `loadlens_run_info` comes redacted as the
reports redact it (the CLI does it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.result import StageInfo

_SNAPSHOT_EVERY_S = 1.0  # frames arrive once a second: reading more often shows nothing new
_QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))

Labels = tuple[str, ...]
Rows = tuple[tuple[Labels, float], ...]
FamilySpec = tuple[str, str, str, str, tuple[str, ...]]  # name, kind, unit, help, label names


@dataclass(frozen=True, slots=True)
class Family:
    """One metric as served: its name, kind, unit, help text, label names and samples."""

    name: str
    kind: str  # "counter" (cumulative, never down) or "gauge"
    unit: str  # UCUM, as OpenTelemetry wants it: "s", "By", "%", "1", "{request}"
    documentation: str
    labels: tuple[str, ...]
    rows: Rows


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one scrape or export serves."""

    families: tuple[Family, ...] = ()


@dataclass(frozen=True, slots=True)
class RunLabels:
    """What `loadlens_run_info` says about the run."""

    run_id: Callable[[], str | None]  # known once the run has begun
    scenario: str
    target: str  # already redacted


# name, kind, unit, help, label names: the order they are served in (docs/outputs.md)
FAMILIES: tuple[FamilySpec, ...] = (
    (
        "loadlens_requests",
        "counter",
        "{request}",
        "Requests by outcome",
        ("stage", "operation", "outcome"),
    ),
    (
        "loadlens_latency_seconds",
        "gauge",
        "s",
        "Latency quantiles of the stage so far",
        ("stage", "operation", "quantile"),
    ),
    (
        "loadlens_requests_per_second",
        "gauge",
        "{request}/s",
        "Requests per second over the last reported second",
        ("stage", "operation"),
    ),
    (
        "loadlens_error_ratio",
        "gauge",
        "1",
        "Non-ok requests / requests in the stage so far",
        ("stage", "operation"),
    ),
    ("loadlens_sent_bytes", "counter", "By", "Bytes sent", ("stage", "operation")),
    ("loadlens_received_bytes", "counter", "By", "Bytes received", ("stage", "operation")),
    (
        "loadlens_generator_cpu_percent",
        "gauge",
        "%",
        "CPU of the worker processes in the last reported second, summed (100 = one core)",
        ("stage",),
    ),
    (
        "loadlens_generator_loop_lag_seconds",
        "gauge",
        "s",
        "Largest event-loop lag of any worker in the last reported second",
        ("stage",),
    ),
    ("loadlens_in_flight", "gauge", "{iteration}", "Iterations in flight", ("stage",)),
    ("loadlens_users", "gauge", "{user}", "Active virtual users (closed model)", ("stage",)),
)

# The run and its current stage, one sample each (built by `Snapshots._families`).
INFO_FAMILIES: tuple[FamilySpec, ...] = (
    (
        "loadlens_run_info",
        "gauge",
        "1",
        "The run: always 1, its facts in the labels",
        ("run_id", "scenario", "target"),
    ),
    (
        "loadlens_stage",
        "gauge",
        "1",
        "The stage running now (or last): its index in the result",
        ("stage",),
    ),
    (
        "loadlens_stage_elapsed_seconds",
        "gauge",
        "s",
        "Seconds since the current stage started",
        ("stage",),
    ),
    (
        "loadlens_stage_planned_seconds",
        "gauge",
        "s",
        "The current stage's ramp plus duration",
        ("stage",),
    ),
)


@dataclass(slots=True)
class _StageNumbers:
    """One stage's last numbers, each a family name -> rows."""

    rows: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)

    def add(self, family: str, labels: Labels, value: float) -> None:
        self.rows.setdefault(family, []).append((labels, value))


class Snapshots:
    """A RunListener that keeps the last Snapshot of the run's numbers for another thread."""

    def __init__(self, run: RunLabels, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.run = run
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._stages: dict[int, _StageNumbers] = {}  # coordinator thread only
        self._current: StageInfo | None = None
        self._elapsed = 0.0
        self._last = float("-inf")

    def snapshot(self) -> Snapshot:
        """The numbers as last read (any thread)."""
        with self._lock:
            return self._snapshot

    def stage_started(self, info: StageInfo) -> None:
        self._current = info
        self._elapsed = 0.0
        self._stages.setdefault(info.index, _StageNumbers())
        self.publish()

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        now = self._clock()
        if now - self._last < _SNAPSHOT_EVERY_S:
            return
        self._last = now
        self._elapsed = elapsed
        self._stages[info.index] = _read_stage(info, accumulator, running=True)
        self.publish()

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        self._stages[info.index] = _read_stage(info, accumulator, running=False)
        self.publish()

    def publish(self) -> None:
        """Build a snapshot of what was read and make it the one served."""
        snapshot = Snapshot(self._families())
        with self._lock:
            self._snapshot = snapshot

    def _families(self) -> tuple[Family, ...]:
        families = []
        for name, kind, unit, documentation, labels in FAMILIES:
            rows = tuple(
                row
                for index in sorted(self._stages)
                for row in self._stages[index].rows.get(name, ())
            )
            families.append(Family(name, kind, unit, documentation, labels, rows))
        run_id = self.run.run_id() or ""
        current = self._current
        values: list[tuple[Labels, float] | None] = [
            ((run_id, self.run.scenario, self.run.target), 1.0),
            None if current is None else ((current.name,), float(current.index)),
            None if current is None else ((current.name,), self._elapsed),
            None if current is None else ((current.name,), current.duration_s + current.ramp_s),
        ]
        for (name, kind, unit, documentation, labels), row in zip(
            INFO_FAMILIES, values, strict=True
        ):
            if row is not None:
                families.append(Family(name, kind, unit, documentation, labels, (row,)))
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
