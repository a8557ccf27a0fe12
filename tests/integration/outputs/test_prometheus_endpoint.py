"""`--prometheus 127.0.0.1:0` on a real run: the endpoint is scraped while the run goes, shows
the documented series with plausible values, and is closed once the run has exited."""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import time
from pathlib import Path
from urllib.request import urlopen

from prometheus_client.parser import text_string_to_metric_families

from tests.support.runs import RUN_TIMEOUT_S, running, write
from tests.support.testserver import LocalServer

# 2 users × 60 iterations with 100 ms of think time: about 3 s of load, bounded by iterations
# (not by a duration the test depends on), long enough for several 1-second snapshots.
SCENARIO = """\
name: prom
target: http://127.0.0.1:1
steps:
  - request: {name: list, method: GET, url: /users}
  - think: 100ms
plan:
  - {stage: steady, users: 2, iterations: 120}
"""
_SCRAPE_EVERY_S = 0.25
_MAX_SCRAPES = 200  # a bound on the loop: 50 s of scraping at most
_DOCUMENTED = {
    "loadlens_requests",
    "loadlens_latency_seconds",
    "loadlens_requests_per_second",
    "loadlens_error_ratio",
    "loadlens_sent_bytes",
    "loadlens_received_bytes",
    "loadlens_generator_cpu_percent",
    "loadlens_generator_loop_lag_seconds",
    "loadlens_in_flight",
    "loadlens_users",
    "loadlens_run_info",
    "loadlens_stage",
    "loadlens_stage_elapsed_seconds",
    "loadlens_stage_planned_seconds",
}


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _requests_total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(v for (name, _), v in samples.items() if name == "loadlens_requests_total")


def _scrape_while_running(
    process: subprocess.Popen[str], lines: queue.Queue[str]
) -> tuple[int, list[dict[tuple[str, tuple[tuple[str, str], ...]], float]]]:
    """The port the run printed first, and its scrapes until requests_total has shown two
    different non-zero values (or the run ended)."""
    first = lines.get(timeout=RUN_TIMEOUT_S)
    match = re.fullmatch(r"prometheus: http://127\.0\.0\.1:(\d+)/metrics\n", first)
    assert match, first
    port = int(match.group(1))
    scrapes = []
    for _ in range(_MAX_SCRAPES):
        if process.poll() is not None:
            break
        try:
            scrapes.append(_scrape(port))
        except OSError:  # the run ended between poll() and the scrape
            break
        if len({_requests_total(s) for s in scrapes} - {0.0}) >= 2:
            break
        time.sleep(_SCRAPE_EVERY_S)
    return port, scrapes


def test_prometheus_endpoint_is_scraped_during_a_run_and_closed_after(tmp_path: Path) -> None:
    scenario = write(tmp_path / "prom.yaml", SCENARIO)
    out = tmp_path / "out"
    with LocalServer("crud") as url, running(
        "run", str(scenario), "--target", url, "--out", str(out), "--quiet", "--workers", "1",
        "--prometheus", "127.0.0.1:0",
    ) as run:  # fmt: skip
        port, scrapes = _scrape_while_running(run.process, run.lines)
        code, output = run.wait()
    assert code == 0, f"exit {code}\n{output}"

    totals = [_requests_total(s) for s in scrapes]
    assert len({t for t in totals if t > 0}) >= 2, totals  # requests_total rose during the run
    assert totals == sorted(totals)  # a counter never goes down
    last = scrapes[-1]
    assert {name.removesuffix("_total") for name, _ in last} >= _DOCUMENTED
    labels = dict(next(lab for name, lab in last if name == "loadlens_run_info"))
    assert labels["scenario"] == "prom" and labels["target"] == url
    assert re.fullmatch(r"\d{8}-\d{6}-prom.*", labels["run_id"]), labels
    outcomes = {dict(lab)["outcome"] for name, lab in last if name == "loadlens_requests_total"}
    assert outcomes == {"ok:200"}
    p99 = last[("loadlens_latency_seconds", (("operation", "list"), ("quantile", "0.99"),
                                              ("stage", "steady")))]  # fmt: skip
    assert 0 < p99 < 5
    assert last[("loadlens_error_ratio", (("operation", "list"), ("stage", "steady")))] == 0
    assert last[("loadlens_sent_bytes_total", (("operation", "list"), ("stage", "steady")))] > 0

    # The run has exited: nothing listens on the port any more.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
