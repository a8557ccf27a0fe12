"""Sampling the observers while a run goes, in a background thread.

How it works: `start` resolves `{{ target }}` / `{{ target_port }}`, builds one reader per
source, and starts a daemon thread that calls `sample_once` every `every` seconds (ticks that
fall behind are skipped, not bunched). A sample reads each source in turn with a short
timeout, then computes the derived metrics from this sample's values. A source that fails
records a miss with its reason for each metric it yields; nothing raises out of the loop.
`stop` ends the thread and returns the `ObservationResult`.

A thread, not the engine's event loop: the coordinator is a synchronous process with its own
poll loop, and one GET per source per second needs no concurrency. Each series keeps at most
`max_samples` samples; when full it drops every other one and from then keeps every second
sample (and so on), so memory is bounded whatever the run length.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loadlens.model.observation import (
    MISSING,
    MetricSeries,
    ObservationResult,
    ObserverSpec,
    ObserveSpec,
    SourceHealth,
    SourceKind,
    evaluate,
    fill_placeholders,
    target_values,
)
from loadlens.model.redaction import Redactor
from loadlens.observe.json_source import JsonSource
from loadlens.observe.process import ProcessSource
from loadlens.observe.prometheus import PrometheusSource
from loadlens.observe.source import Source, SourceError

DEFAULT_MAX_SAMPLES = 3600  # an hour at one sample a second before thinning starts
MAX_TIMEOUT_S = 2.0  # a metrics page slower than this is a missed sample, not a stall
_JOIN_GRACE_S = 1.0


class _Health:
    __slots__ = ("attempts", "last_error", "missed")

    def __init__(self) -> None:
        self.attempts = 0
        self.missed = 0
        self.last_error: str | None = None


class _Series:
    __slots__ = ("last_error", "missed", "samples", "seen", "stride")

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.seen = 0
        self.stride = 1
        self.missed = 0
        self.last_error: str | None = None

    def add(self, t: float, value: float, limit: int) -> None:
        if self.seen % self.stride == 0:
            if len(self.samples) >= limit:
                self.samples = self.samples[::2]
                self.stride *= 2
            if self.seen % self.stride == 0:
                self.samples.append((t, value))
        self.seen += 1


def build_source(spec: ObserverSpec, values: dict[str, str], timeout: float) -> Source:
    """The reader for one source, its placeholders filled."""
    if spec.kind is SourceKind.JSON:
        return JsonSource(fill_placeholders(spec.url, values), spec.json_metrics, timeout)
    if spec.kind is SourceKind.PROMETHEUS:
        url = fill_placeholders(spec.url, values)
        return PrometheusSource(url, spec.prometheus_metrics, spec.quantiles, timeout)
    assert spec.process is not None
    target = spec.process
    if target.port is not None:
        target = type(target)(port=fill_placeholders(target.port, values))
    return ProcessSource(target, spec.prefix)


class ObservationSession:
    """Samples an `ObserveSpec`'s sources until stopped."""

    def __init__(
        self,
        spec: ObserveSpec,
        *,
        target: str,
        max_samples: int = DEFAULT_MAX_SAMPLES,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.max_samples = max(2, max_samples)
        self._redactor = redactor or Redactor()
        self._clock = clock
        timeout = min(MAX_TIMEOUT_S, max(0.1, spec.every * 0.8))
        values = target_values(target)
        self._sources = [build_source(source, values, timeout) for source in spec.sources]
        self._health = [_Health() for _ in self._sources]
        self._series: dict[str, _Series] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = clock()

    def start(self) -> None:
        """Take a first sample now and then every `every` seconds in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the observation session is already started")
        self._started = self._clock()
        self._thread = threading.Thread(target=self._loop, name="loadlens-observe", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        due = self._clock()
        while not self._stopping.is_set():
            self.sample_once()
            due += self.spec.every
            delay = due - self._clock()
            if delay < 0:  # fell behind: skip the lost ticks rather than sample in a burst
                due, delay = self._clock(), 0.0
            if self._stopping.wait(delay):
                break

    def sample_once(self) -> None:
        """Read every source once and compute the derived metrics; never raises."""
        now = self._clock()
        t = round(now - self._started, 6)
        values: dict[str, float] = {}
        failures: list[tuple[list[str], str]] = []
        for index, source in enumerate(self._sources):
            health = self._health[index]
            health.attempts += 1
            try:
                values.update(source.read(now))
            except SourceError as error:
                values.update(error.partial)
                reason = self._redactor.text(error.reason)
                health.missed += 1
                health.last_error = reason
                failures.append(([n for n in source.names if n not in error.partial], reason))
            except Exception as error:  # a bug in a reader must not end observation
                reason = self._redactor.text(f"{type(error).__name__}: {error}")
                health.missed += 1
                health.last_error = reason
                failures.append((list(source.names), reason))
        derived_missing: list[tuple[str, str]] = []
        for metric in self.spec.derived:
            result = evaluate(metric.expression, lambda path: values.get(".".join(path), MISSING))
            if isinstance(result, int | float) and not isinstance(result, bool):
                values[metric.name] = float(result)
            else:
                derived_missing.append((metric.name, f"no value for `{metric.text}`"))
        with self._lock:
            for name, value in values.items():
                self._get(name).add(t, value, self.max_samples)
            for names, reason in failures:
                for name in names:
                    self._miss(name, reason)
            for name, reason in derived_missing:
                self._miss(name, reason)

    def _get(self, name: str) -> _Series:
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = _Series()
        return series

    def _miss(self, name: str, reason: str) -> None:
        series = self._get(name)
        series.missed += 1
        series.last_error = reason

    def result(self) -> ObservationResult:
        """What has been seen so far."""
        with self._lock:
            metrics = tuple(
                MetricSeries(name, tuple(s.samples), s.missed, s.last_error, s.stride)
                for name, s in self._series.items()
            )
        sources = tuple(
            SourceHealth(source.description, h.attempts, h.missed, h.last_error)
            for source, h in zip(self._sources, self._health, strict=True)
        )
        return ObservationResult(self.spec.every, metrics, sources)

    def stop(self) -> ObservationResult:
        """Stop sampling (waiting for a sample in progress) and return what was seen."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(MAX_TIMEOUT_S * max(1, len(self._sources)) + _JOIN_GRACE_S)
        return self.result()
