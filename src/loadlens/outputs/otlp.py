"""`--otlp URL`: the run's numbers pushed to an OpenTelemetry collector (OTLP/HTTP, protobuf).

The same numbers as `--prometheus` (see `snapshot`): every family becomes an asynchronous
instrument of the OpenTelemetry SDK (an observable counter for counters, an observable gauge
for the rest) whose callback reads the last `Snapshot`, never the accumulator. The SDK's
periodic reader collects and exports once a second from its own daemon thread of the
coordinator process. `close` (once the reports are written) shuts the SDK down, which
collects and exports a last time, so the collector gets the run's final counts.

The SDK is an optional extra (`pip install 'loadlens[otlp]'`); without it `--otlp` is a usage
error before anything is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from loadlens import __version__
from loadlens.errors import UsageError
from loadlens.outputs.snapshot import FAMILIES, INFO_FAMILIES, RunLabels, Snapshots

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

_EXPORT_EVERY_MS = 1000  # the snapshot changes once a second
_EXPORT_TIMEOUT_S = 2.0  # one export, retries included: a collector slower misses that second
_SHUTDOWN_TIMEOUT_MS = 5_000  # the last export at close: bounded, so the exit is never stuck
_METRICS_PATH = "/v1/metrics"  # the OTLP/HTTP path when the URL names only the collector


def otlp_endpoint(url: str) -> str:
    """The metrics endpoint of an `--otlp` URL: `http(s)://host:port[/path]`; a URL without a
    path gets `/v1/metrics`, as OTEL_EXPORTER_OTLP_ENDPOINT does."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--otlp wants an http:// or https:// URL of an OTLP/HTTP collector, not {url!r}",
            hint="e.g. --otlp http://127.0.0.1:4318 (sends to /v1/metrics)",
        )
    path = parts.path if parts.path not in ("", "/") else _METRICS_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class OtlpExporter(Snapshots):
    """A RunListener that pushes the run's numbers to an OTLP/HTTP endpoint until `close`."""

    def __init__(
        self, url: str, run: RunLabels, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(run, clock=clock)
        self.endpoint = otlp_endpoint(url)
        self._provider: MeterProvider | None = None

    def start(self) -> None:
        """Set up the SDK and its export thread; a usage error when it is not installed."""
        sdk = _load_sdk()
        exporter = sdk["OTLPMetricExporter"](endpoint=self.endpoint, timeout=_EXPORT_TIMEOUT_S)
        reader = sdk["PeriodicExportingMetricReader"](
            exporter, export_interval_millis=_EXPORT_EVERY_MS
        )
        resource = sdk["Resource"].create(
            {"service.name": "loadlens", "service.version": __version__}
        )
        provider: MeterProvider = sdk["MeterProvider"](
            metric_readers=[reader], resource=resource, shutdown_on_exit=False
        )
        meter = provider.get_meter("loadlens", __version__)
        for name, kind, unit, documentation, _labels in (*FAMILIES, *INFO_FAMILIES):
            create = (
                meter.create_observable_counter
                if kind == "counter"
                else meter.create_observable_gauge
            )
            create(name, callbacks=[self._callback(name)], unit=unit, description=documentation)
        self._provider = provider
        self.publish()

    def close(self) -> None:
        """Export a last time and stop the SDK's thread; safe to call twice."""
        provider, self._provider = self._provider, None
        if provider is not None:
            provider.shutdown(timeout_millis=_SHUTDOWN_TIMEOUT_MS)

    def _callback(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        from opentelemetry.metrics import Observation

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            for family in self.snapshot().families:
                if family.name == name:
                    return [
                        Observation(value, dict(zip(family.labels, labels, strict=True)))
                        for labels, value in family.rows
                    ]
            return []

        return observe


def require_sdk() -> None:
    """A usage error now, before anything is sent, when the SDK is not installed."""
    _load_sdk()


def _load_sdk() -> dict[str, Any]:
    """The SDK's classes, imported only when `--otlp` is used."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
    except ImportError:
        raise UsageError(
            "--otlp needs the OpenTelemetry SDK and its OTLP/HTTP exporter, "
            "which are not installed",
            hint="pip install 'loadlens[otlp]'",
        ) from None
    return {
        "OTLPMetricExporter": OTLPMetricExporter,
        "MeterProvider": MeterProvider,
        "PeriodicExportingMetricReader": PeriodicExportingMetricReader,
        "Resource": Resource,
    }
