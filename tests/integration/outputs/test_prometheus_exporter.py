"""PrometheusExporter fed by hand: what a scrape serves, how often it reads the accumulator,
and the `[HOST:]PORT` it accepts."""

from __future__ import annotations

from urllib.request import urlopen

import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadlens.errors import UsageError
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.result import StageInfo
from loadlens.outputs.fanout import FanOut
from loadlens.outputs.prometheus import PrometheusExporter, parse_listen_address
from loadlens.outputs.snapshot import RunLabels
from tests.support.frames import Clock, one_op_frame

STAGE = StageInfo("smoke, 1", 0, {"model": "closed", "users": 2}, 10.0, 0.0)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _frame(second: int, latencies_us: list[int], outcomes: dict[str, int]) -> Frame:
    health = Health(cpu_percent=12.5, loop_lag_ms=3.0, in_flight=2, users=2)
    return one_op_frame(second, latencies_us, outcomes, operation='get "a"', health=health)


def _samples(exporter: PrometheusExporter) -> Samples:
    with urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def exporter() -> PrometheusExporter:
    labels = RunLabels(lambda: "run-1", "users", "http://127.0.0.1:8000")
    return PrometheusExporter("127.0.0.1", 0, labels)


def test_a_scrape_serves_the_last_snapshot_not_the_accumulator() -> None:
    clock = Clock()
    labels = RunLabels(lambda: "run-1", "users", "http://127.0.0.1:8000")
    exporter = PrometheusExporter("127.0.0.1", 0, labels, clock=clock)
    accumulator = RunAccumulator(['get "a"'], [STAGE])
    exporter.start()
    try:
        exporter.stage_started(STAGE)
        accumulator.add(_frame(0, [2000] * 9 + [50_000], {"ok:200": 9, "status:503": 1}))
        exporter.tick(STAGE, 1.0, accumulator)
        first = _samples(exporter)
        accumulator.add(_frame(1, [2000] * 10, {"ok:200": 10}))
        clock.now += 0.5  # within the second: not read again
        exporter.tick(STAGE, 1.5, accumulator)
        assert _samples(exporter) == first
        clock.now += 0.5
        exporter.tick(STAGE, 2.0, accumulator)
        second = _samples(exporter)
        exporter.stage_finished(STAGE, accumulator)
        finished = _samples(exporter)
    finally:
        exporter.close()

    op = ("operation", 'get "a"')
    stage = ("stage", "smoke, 1")
    assert first[("loadlens_requests_total", (op, ("outcome", "ok:200"), stage))] == 9
    assert first[("loadlens_requests_total", (op, ("outcome", "status:503"), stage))] == 1
    assert first[("loadlens_error_ratio", (op, stage))] == pytest.approx(0.1)
    assert second[("loadlens_requests_total", (op, ("outcome", "ok:200"), stage))] == 19
    assert second[("loadlens_latency_seconds", (op, ("quantile", "0.5"), stage))] == (
        pytest.approx(0.002, rel=0.01)
    )
    assert second[("loadlens_latency_seconds", (op, ("quantile", "0.99"), stage))] == (
        pytest.approx(0.05, rel=0.01)
    )
    assert second[("loadlens_sent_bytes_total", (op, stage))] == 2000
    assert second[("loadlens_received_bytes_total", (op, stage))] == 600
    assert second[("loadlens_generator_cpu_percent", (stage,))] == 12.5
    assert second[("loadlens_generator_loop_lag_seconds", (stage,))] == pytest.approx(0.003)
    assert second[("loadlens_users", (stage,))] == 2
    assert second[("loadlens_stage_elapsed_seconds", (stage,))] == 2.0
    assert second[("loadlens_stage", (stage,))] == 0
    run_info = (("run_id", "run-1"), ("scenario", "users"), ("target", "http://127.0.0.1:8000"))
    assert second[("loadlens_run_info", run_info)] == 1
    # A finished stage keeps its counters; it sends nothing any more.
    assert finished[("loadlens_requests_total", (op, ("outcome", "ok:200"), stage))] == 19
    assert finished[("loadlens_requests_per_second", (op, stage))] == 0
    assert finished[("loadlens_users", (stage,))] == 0


def test_close_frees_the_port_and_may_be_called_twice(exporter: PrometheusExporter) -> None:
    import socket

    port = exporter.start()
    exporter.close()
    exporter.close()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_port_in_use_is_a_usage_error() -> None:
    labels = RunLabels(lambda: None, "s", "http://127.0.0.1:1")
    first = PrometheusExporter("127.0.0.1", 0, labels)
    port = first.start()
    try:
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            PrometheusExporter("127.0.0.1", port, labels).start()
    finally:
        first.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9464", ("127.0.0.1", 9464)),
        ("0", ("127.0.0.1", 0)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("[::1]:9000", ("::1", 9000)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "127.0.0.1:", "70000", "-1", "host:port"])
def test_bad_listen_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--prometheus wants"):
        parse_listen_address(text)


def test_fan_out_calls_every_listener_in_order() -> None:
    calls: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def stage_started(self, info: StageInfo) -> None:
            calls.append(f"{self.name} started {info.name}")

        def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
            calls.append(f"{self.name} tick {elapsed}")

        def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
            calls.append(f"{self.name} finished")

    fan = FanOut([Recorder("a"), Recorder("b")])
    accumulator = RunAccumulator([], [STAGE])
    fan.stage_started(STAGE)
    fan.tick(STAGE, 1.0, accumulator)
    fan.stage_finished(STAGE, accumulator)
    assert calls == [
        "a started smoke, 1",
        "b started smoke, 1",
        "a tick 1.0",
        "b tick 1.0",
        "a finished",
        "b finished",
    ]
