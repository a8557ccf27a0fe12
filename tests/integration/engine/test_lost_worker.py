"""A worker killed mid-run (kill -9): the result names it, when it was lost and what it had
reported, the stage does not go on at a fraction of its load, and the run is never GO."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from loadlens.engine.worker import WORKER_NAME
from loadlens.metrics.result import read_result
from loadlens.model.verdict import VerdictKind
from tests.support.runs import op_counts, write
from tests.support.testserver import LocalServer

LONG = """\
name: long
target: http://127.0.0.1:1
flows:
  - name: crud
    steps:
      - request: {name: create, method: POST, url: /users, json: {name: a}}
        capture: {id: $.id}
      - request: {name: read, method: GET, url: "/users/{{ id }}"}
plan:
  - {stage: first, users: 4, duration: 60s, grace: 2s, gates: [error_rate < 1%]}
  - {stage: second, users: 4, duration: 60s, grace: 2s}
"""


def _wait_for_requests_from(workers: set[int], out: Path, deadline: float) -> None:
    """Until each of `workers` has reported requests in a frame (so the one killed has)."""
    while time.monotonic() < deadline:
        for frames in out.glob("*/frames.jsonl"):
            lines = frames.read_text(encoding="utf-8").splitlines()[:-1]  # the last may be half
            if {json.loads(line)["worker"] for line in lines if '"ops":{}' not in line} >= workers:
                return
        time.sleep(0.1)
    raise AssertionError("the workers reported no requests in time")


def _workers(pid: int) -> list[psutil.Process]:
    """The run's worker processes (forked or spawned; not multiprocessing's resource tracker),
    by the name each worker gives itself."""
    return [
        child for child in psutil.Process(pid).children() if child.name().startswith(WORKER_NAME)
    ]


def test_a_killed_worker_is_named_and_the_run_is_not_go(tmp_path: Path) -> None:
    scenario = write(tmp_path / "long.yaml", LONG)
    out = tmp_path / "runs"
    server = LocalServer("crud")
    with server as url:
        process = subprocess.Popen(
            [sys.executable, "-m", "loadlens", "run", str(scenario), "--target", url,
             "--out", str(out), "--workers", "2", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            _wait_for_requests_from({0, 1}, out, deadline=time.monotonic() + 60)
            workers = _workers(process.pid)
            assert len(workers) == 2
            victim = workers[0].pid
            os.kill(victim, signal.SIGKILL)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        served = server.counters()
    assert process.returncode == 3, stdout + stderr  # INCONCLUSIVE, never 0 (GO)
    assert "Traceback" not in stdout + stderr
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    result = read_result(run_dir / "result.json")
    (lost,) = result.lost_workers
    assert lost.pid == victim
    assert lost.cause == "killed by SIGKILL"
    assert (lost.stage_name, lost.share, lost.share_fraction) == ("first", "2 of 4 users", 0.5)
    assert lost.lost_after_s > 0
    assert lost.reported > 0  # it had sent frames before it was killed
    assert not result.complete
    assert [stage.ran for stage in result.stages] == [True, False]  # stopped, not half-loaded
    assert result.verdict is not None
    assert result.verdict.kind is VerdictKind.INCONCLUSIVE
    assert result.verdict.stages_not_run == ("second",)
    reason = result.verdict.reasons[0]
    assert reason.startswith(
        f"worker {lost.worker} (pid {victim}) was lost {lost.lost_after_s:.1f} s into stage "
        f"`first` (killed by SIGKILL) after reporting {lost.reported:,} requests"
    )
    assert "the delivered load fell 50% below the plan (its share: 2 of 4 users)" in reason
    assert f"worker {lost.worker} (pid {victim}) was lost" in stdout
    # what was reported is at most what the service received; the dead worker's last
    # requests reached the service without being reported
    counts = op_counts(result)
    assert 0 < counts["create"] <= served["POST /users"]
    assert counts["read"] <= served["GET /users/{id}"]
