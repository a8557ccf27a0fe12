"""OtlpExporter fed by hand: the last export at close carries the final numbers; a clear
usage error without the SDK or with a URL that is not http(s)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from loadlens.errors import UsageError
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import encode_histogram, new_histogram, record_values
from loadlens.metrics.result import StageInfo
from loadlens.outputs.otlp import OtlpExporter, otlp_endpoint, require_sdk
from loadlens.outputs.snapshot import RunLabels
from tests.support.otlp_collector import Collector

STAGE = StageInfo("s", 0, {"model": "closed", "users": 1}, 5.0, 0.0)


def _frame(second: int, n: int) -> Frame:
    h = new_histogram()
    record_values(h, np.array([3000] * n, dtype=np.int64))
    op = OpFrame(encode_histogram(h), {"ok:200": n}, 50 * n, 70 * n)
    return Frame(0, 0, second, 1000.0 + second, {"get": op}, Health(users=1))


def test_the_export_at_close_carries_the_final_counts() -> None:
    accumulator = RunAccumulator(["get"], [STAGE])
    collector = Collector()
    with collector as url:
        exporter = OtlpExporter(url, RunLabels(lambda: "run-1", "sc", "http://127.0.0.1:9"))
        exporter.start()
        try:
            exporter.stage_started(STAGE)
            accumulator.add(_frame(0, 4))
            exporter.tick(STAGE, 1.0, accumulator)
            accumulator.add(_frame(1, 6))
            exporter.stage_finished(STAGE, accumulator)
        finally:
            exporter.close()
            exporter.close()  # twice is harmless
    op = (("operation", "get"), ("outcome", "ok:200"), ("stage", "s"))
    assert collector.last("loadlens_requests") == {op: 10.0}
    assert collector.last("loadlens_sent_bytes") == {(("operation", "get"), ("stage", "s")): 500}
    latency = collector.last("loadlens_latency_seconds")
    assert latency[(("operation", "get"), ("quantile", "0.5"), ("stage", "s"))] == (
        pytest.approx(0.003, rel=0.01)
    )
    assert collector.last("loadlens_run_info") == {
        (("run_id", "run-1"), ("scenario", "sc"), ("target", "http://127.0.0.1:9")): 1.0
    }


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/metrics"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/metrics"),
        ("https://otel.example:443/custom/path", "https://otel.example:443/custom/path"),
    ],
)
def test_endpoints(url: str, endpoint: str) -> None:
    assert otlp_endpoint(url) == endpoint


@pytest.mark.parametrize("url", ["127.0.0.1:4318", "grpc://127.0.0.1:4317", "http://", ""])
def test_a_url_that_is_not_http_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="--otlp wants an http:// or https:// URL"):
        otlp_endpoint(url)


def test_without_the_sdk_otlp_is_a_usage_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)
    with pytest.raises(UsageError) as raised:
        require_sdk()
    assert raised.value.message == (
        "--otlp needs the OpenTelemetry SDK and its OTLP/HTTP exporter, which are not installed"
    )
    assert raised.value.hint == "pip install 'loadlens[otlp]'"
