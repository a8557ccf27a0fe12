"""Measured latency against servers whose latency is known."""

from __future__ import annotations

from pathlib import Path

from tests.support.runs import run_scenario, write
from tests.support.testserver import LocalServer

ONE_GET = """\
name: {name}
target: http://127.0.0.1:1
flows:
  - name: get
    steps:
      - request: {{name: get, method: GET, url: /x}}
plan:
  - {plan}
"""


def _within(measured: float, truth: float, slack_ms: float = 0.0) -> bool:
    """The acceptance bound: 5 % of the truth plus 1 ms, plus `slack_ms`: how late, by its own
    measurement, the generator may have read a response that had arrived (its worst loop lag)."""
    return abs(measured - truth) <= 0.05 * truth + 1.0 + slack_ms


def test_percentiles_match_injected_delays(tmp_path: Path) -> None:
    # the server answers 9 requests of 10 in 10 ms and the 10th in 100 ms
    plan = "{stage: s, users: 10, iterations: 600}"  # a count: exact whatever the machine
    scenario = write(tmp_path / "d.yaml", ONE_GET.format(name="delays", plan=plan))
    with LocalServer("delays") as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
    run.assert_go_unless_starved()
    result = run.result()
    latency = result.operations["get"].latency
    assert latency.count == 600
    # On a shared machine the worker is descheduled now and then and reads some responses late;
    # its loop-lag probes measure by how much, and that is the only slack granted.
    lag = max(point.health.loop_lag_ms for point in result.series)
    assert _within(latency.p50, 10.0, lag), (latency, lag)
    assert _within(latency.p95, 100.0, lag), (latency, lag)


def test_open_model_latency_shows_a_server_stall(tmp_path: Path) -> None:
    # 600 arrivals at 200/s; the server freezes for 500 ms once, 1 s in. Requests sent on
    # schedule during the freeze must carry it in their latency.
    plan = "{stage: s, rate: 200/s, iterations: 600}"
    scenario = write(tmp_path / "s.yaml", ONE_GET.format(name="stall", plan=plan))
    with LocalServer("stall", stall_after=1.0) as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
    run.assert_go_unless_starved()
    result = run.result()
    latency = result.operations["get"].latency
    assert latency.count == 600
    assert latency.p50 < 50.0, latency
    assert latency.p99 > 400.0, latency  # about 1 request in 6 waited for the freeze
    assert latency.max > 450.0, latency


def test_arrivals_beyond_the_in_flight_cap_are_dropped_and_counted(tmp_path: Path) -> None:
    plan = "{stage: s, rate: 200/s, iterations: 600, max_in_flight: 20}"
    scenario = write(tmp_path / "c.yaml", ONE_GET.format(name="capped", plan=plan))
    with LocalServer("stall", stall_after=1.0) as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
    run.assert_go_unless_starved()
    result = run.result()
    sent = result.operations["get"].count
    # during the 500 ms freeze 20 iterations fill the cap; most of the other ~80 are dropped
    assert result.health.dropped >= 50, result.health
    assert sent + result.health.dropped == 600
    assert "dropped iterations" in run.stdout
