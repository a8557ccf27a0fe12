"""Ctrl-C in the middle of a run: the partial result is on disk, marked, and exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loadlens.metrics.result import read_result
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
  - {stage: first, users: 4, duration: 60s}
  - {stage: second, users: 4, duration: 60s}
"""


def _wait_for_frames(out: Path, lines: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        for frames in out.glob("*/frames.jsonl"):
            if frames.read_text(encoding="utf-8").count("\n") >= lines:
                return
        time.sleep(0.1)
    raise AssertionError("the run wrote no frames in time")


def test_sigint_leaves_an_exact_partial_result(tmp_path: Path) -> None:
    scenario = write(tmp_path / "long.yaml", LONG)
    out = tmp_path / "runs"
    server = LocalServer("crud")
    with server as url:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loadlens",
                "run",
                str(scenario),
                "--target",
                url,
                "--out",
                str(out),
                "--workers",
                "2",
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal would have
        )
        try:
            _wait_for_frames(out, lines=4, deadline=time.monotonic() + 30)
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        served = server.counters()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    result = read_result(run_dir / "result.json")
    assert not result.complete
    assert result.interrupted
    assert [stage.ran for stage in result.stages] == [True, False]
    counts = op_counts(result)
    assert counts["create"] > 0
    assert counts == {"create": served["POST /users"], "read": served["GET /users/{id}"]}
    assert "INCOMPLETE" in stdout
