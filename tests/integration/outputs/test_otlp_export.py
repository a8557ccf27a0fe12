"""`--otlp URL` on a real run: a local collector written for the test receives the documented
metrics, and the last export's request counts equal result.json's."""

from __future__ import annotations

from pathlib import Path

from tests.support.otlp_collector import Collector
from tests.support.runs import run_scenario, write
from tests.support.testserver import LocalServer

SCENARIO = """\
name: otlp
target: http://127.0.0.1:1
steps:
  - request: {name: list, method: GET, url: /users}
  - think: 20ms
  - request: {name: create, method: POST, url: /users, json: {name: ada}}
plan:
  - {stage: first, users: 2, iterations: 60}
  - {stage: second, users: 1, iterations: 20}
"""


def test_a_run_pushes_its_metrics_to_an_otlp_collector(tmp_path: Path) -> None:
    scenario = write(tmp_path / "otlp.yaml", SCENARIO)
    collector = Collector()
    with LocalServer("crud") as url, collector as otlp:
        run = run_scenario(scenario, url, tmp_path / "out", "--workers", "1", "--otlp", otlp)
    assert run.code == 0, f"exit {run.code}\n{run.stdout}\n{run.stderr}"
    assert f"otlp: {otlp}/v1/metrics" in run.stdout.splitlines()
    assert set(collector.paths) == {"/v1/metrics"}
    assert {"service.name": "loadlens"}.items() <= collector.resources[0].items()
    names = {p.name for p in collector.points}
    assert names >= {
        "loadlens_requests",
        "loadlens_latency_seconds",
        "loadlens_requests_per_second",
        "loadlens_error_ratio",
        "loadlens_sent_bytes",
        "loadlens_received_bytes",
        "loadlens_generator_cpu_percent",
        "loadlens_generator_loop_lag_seconds",
        "loadlens_run_info",
        "loadlens_stage",
    }
    requests = [p for p in collector.points if p.name == "loadlens_requests"]
    assert all(p.kind == "sum" and p.monotonic and p.unit == "{request}" for p in requests)

    result = run.result()
    counts = {
        (dict(attributes)["stage"], dict(attributes)["operation"]): 0.0
        for attributes in collector.last("loadlens_requests")
    }
    for attributes, value in collector.last("loadlens_requests").items():
        labels = dict(attributes)
        counts[(labels["stage"], labels["operation"])] += value
    expected = {
        (stage.info.name, name): float(op.count)
        for stage in result.stages
        for name, op in stage.operations.items()
    }
    assert counts == expected
    info = collector.last("loadlens_run_info")
    assert list(info) == [(("run_id", result.run.run_id), ("scenario", "otlp"), ("target", url))]
    p99 = collector.last("loadlens_latency_seconds")[
        (("operation", "list"), ("quantile", "0.99"), ("stage", "first"))
    ]
    assert 0 < p99 < 5
