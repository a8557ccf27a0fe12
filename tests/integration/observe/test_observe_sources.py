"""Observers against real servers on 127.0.0.1: a prometheus_client exporter, the demo."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from loadlens.demo import DemoServer
from loadlens.model.jsonpath import parse_jsonpath
from loadlens.model.observation import (
    DerivedMetric,
    JsonMetric,
    ObserverSpec,
    ObserveSpec,
    ProcessTarget,
    PrometheusMetric,
    SourceKind,
    parse_expression,
)
from loadlens.observe import ObservationSession


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def exporter() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    server: WSGIServer = make_server("127.0.0.1", 0, make_wsgi_app(registry), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with DemoServer(tmp_path_factory.mktemp("demo")) as server:
        yield server


def test_prometheus_counters_gauges_and_histograms(
    exporter: tuple[str, CollectorRegistry],
) -> None:
    url, registry = exporter
    requests = Counter("http_requests", "requests", ["route"], registry=registry)
    in_flight = Gauge("in_flight", "in flight", registry=registry)
    latency = Histogram(
        "latency_seconds", "latency", buckets=(0.1, 0.2, 0.4, 0.8), registry=registry
    )
    spec = ObserveSpec(
        sources=(
            ObserverSpec(
                SourceKind.PROMETHEUS,
                url="{{ target }}/metrics",
                prometheus_metrics=(
                    PrometheusMetric("users", "http_requests_total", (("route", "/users"),)),
                    PrometheusMetric("in_flight", "in_flight"),
                    PrometheusMetric("latency", "latency_seconds"),
                ),
                quantiles=(0.5, 0.95),
            ),
        ),
    )
    clock = FakeClock()
    session = ObservationSession(spec, target=url, clock=clock)
    requests.labels("/users").inc(10)
    requests.labels("/other").inc(1000)
    in_flight.set(7)
    latency.observe(0.05)
    session.sample_once()
    clock.now += 2.0
    requests.labels("/users").inc(30)
    for _ in range(100):
        latency.observe(0.3)  # all in the (0.2, 0.4] bucket
    session.sample_once()
    result = session.stop()
    assert result.series("users") is not None
    assert [v for _, v in result.series("users").samples] == [10.0, 40.0]  # type: ignore[union-attr]
    assert result.series("users_rate").samples == ((2.0, 15.0),)  # type: ignore[union-attr]
    assert result.series("in_flight").samples[-1] == (2.0, 7.0)  # type: ignore[union-attr]
    p50 = result.series("latency_p50").samples  # type: ignore[union-attr]
    p95 = result.series("latency_p95").samples  # type: ignore[union-attr]
    assert p50 == ((2.0, pytest.approx(0.3)),)
    assert p95 == ((2.0, pytest.approx(0.39)),)
    assert result.sources[0].missed == 0 and result.sources[0].attempts == 2


def test_demo_health_json_with_a_derived_metric(demo: DemoServer) -> None:
    assert demo.url is not None
    spec = ObserveSpec(
        sources=(
            ObserverSpec(
                SourceKind.JSON,
                url="{{ target }}/health",
                json_metrics=(
                    JsonMetric("hits", parse_jsonpath("$.cache.hits")),
                    JsonMetric("misses", parse_jsonpath("$.cache.misses")),
                    JsonMetric("rss", parse_jsonpath("$.memory.rss")),
                ),
            ),
        ),
        derived=(
            DerivedMetric("total", "hits + misses", parse_expression("hits + misses")),
            DerivedMetric("ratio", "hits / misses", parse_expression("hits / misses")),
        ),
    )
    session = ObservationSession(spec, target=demo.url)
    session.sample_once()
    result = session.stop()
    assert result.series("rss").samples[0][1] > 1_000_000  # type: ignore[union-attr]
    assert result.series("total").samples[0][1] == 0.0  # type: ignore[union-attr]
    ratio = result.series("ratio")  # 0 / 0: no value, recorded as a miss with its reason
    assert ratio is not None and ratio.samples == () and ratio.missed == 1
    assert ratio.last_error == "no value for `hits / misses`"


def test_every_number_of_a_json_body_when_no_metric_is_named(demo: DemoServer) -> None:
    assert demo.url is not None
    spec = ObserveSpec(sources=(ObserverSpec(SourceKind.JSON, url=f"{demo.url}/health"),))
    session = ObservationSession(spec, target=demo.url)
    session.sample_once()
    names = {m.name for m in session.stop().metrics}
    assert {"memory.rss", "cache.hits", "db_pool.size", "uptime_s"} <= names


@pytest.mark.parametrize("how", ["pid", "pidfile", "port"])
def test_the_demo_process_by_pid_pidfile_and_port(
    demo: DemoServer, tmp_path: Path, how: str
) -> None:
    assert demo.pid is not None and demo.url is not None
    pidfile = tmp_path / "demo.pid"
    pidfile.write_text(f"{demo.pid}\n")
    target = {
        "pid": ProcessTarget(pid=demo.pid),
        "pidfile": ProcessTarget(pidfile=str(pidfile)),
        "port": ProcessTarget(port="{{ target_port }}"),
    }[how]
    spec = ObserveSpec(sources=(ObserverSpec(SourceKind.PROCESS, process=target),))
    session = ObservationSession(spec, target=demo.url)
    session.sample_once()
    session.sample_once()
    result = session.stop()
    assert result.sources[0].missed == 0, result.sources[0].last_error
    rss = result.series("process_rss_bytes")
    assert rss is not None and len(rss.samples) == 2 and rss.samples[0][1] > 1_000_000
    assert result.series("process_threads").samples[0][1] >= 1  # type: ignore[union-attr]
    assert result.series("process_connections").samples[0][1] >= 1  # type: ignore[union-attr]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_closed_port_is_a_miss_per_attempt_and_never_raises() -> None:
    port = closed_port()
    spec = ObserveSpec(
        every=0.1,
        sources=(
            ObserverSpec(
                SourceKind.JSON,
                url=f"http://127.0.0.1:{port}/health",
                json_metrics=(JsonMetric("hits", parse_jsonpath("$.hits")),),
            ),
            ObserverSpec(SourceKind.PROCESS, process=ProcessTarget(port=str(port))),
        ),
    )
    session = ObservationSession(spec, target=f"http://127.0.0.1:{port}")
    for _ in range(3):
        session.sample_once()
    result = session.stop()
    json_health, process_health = result.sources
    assert (json_health.attempts, json_health.missed) == (3, 3)
    assert (
        json_health.last_error == f"cannot reach http://127.0.0.1:{port}/health: connection refused"
    )
    hits = result.series("hits")
    assert hits is not None and hits.missed == 3 and hits.samples == ()
    assert process_health.missed == 3
    assert process_health.last_error == f"no process listens on port {port}"


def test_the_background_thread_samples_until_stopped(demo: DemoServer) -> None:
    assert demo.url is not None
    spec = ObserveSpec(
        every=0.1,
        sources=(
            ObserverSpec(
                SourceKind.JSON,
                url="{{ target }}/health",
                json_metrics=(JsonMetric("uptime", parse_jsonpath("$.uptime_s")),),
            ),
        ),
    )
    session = ObservationSession(spec, target=demo.url, max_samples=4)
    done = threading.Event()
    session.start()
    done.wait(1.0)  # the session samples on its own thread meanwhile
    result = session.stop()
    uptime = result.series("uptime")
    assert uptime is not None and result.sources[0].attempts >= 3
    assert len(uptime.samples) <= 4 and uptime.missed == 0
    times = [t for t, _ in uptime.samples]
    assert times == sorted(times)
