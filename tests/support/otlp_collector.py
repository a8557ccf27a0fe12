"""A minimal OTLP/HTTP metrics collector for tests: a thread on 127.0.0.1:0 that decodes every
ExportMetricsServiceRequest (protobuf) it receives and keeps its data points."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)


@dataclass(frozen=True)
class Point:
    """One data point of one export."""

    export: int  # which request brought it, from 0
    name: str
    kind: str  # "sum" or "gauge"
    monotonic: bool
    unit: str
    attributes: tuple[tuple[str, str], ...]
    value: float


class Collector:
    """`with Collector() as url:` a collector at `url` (its /v1/metrics); `points` and
    `resources` hold what arrived; `paths` the request paths."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self.paths: list[str] = []
        self.resources: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._exports = 0

    def __enter__(self) -> str:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                collector._take(self.path, request)
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_port}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _take(self, path: str, request: ExportMetricsServiceRequest) -> None:
        with self._lock:
            export = self._exports
            self._exports += 1
            self.paths.append(path)
            for resource_metrics in request.resource_metrics:
                self.resources.append(
                    {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
                )
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        kind = metric.WhichOneof("data")
                        data = getattr(metric, kind)
                        for point in data.data_points:
                            value = point.as_double if point.HasField("as_double") else point.as_int
                            self.points.append(
                                Point(
                                    export,
                                    metric.name,
                                    kind,
                                    bool(getattr(data, "is_monotonic", False)),
                                    metric.unit,
                                    tuple(
                                        sorted(
                                            (a.key, a.value.string_value) for a in point.attributes
                                        )
                                    ),
                                    float(value),
                                )
                            )

    def last(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """The latest value of each series of `name` (attributes -> value)."""
        with self._lock:
            return {p.attributes: p.value for p in self.points if p.name == name}
