"""A run against a server that sends too much: memory stays bounded, every failure classified."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import psutil

from loadlens.metrics.result import read_result
from tests.support.hostileserver import HostileServer
from tests.support.runs import RUN_TIMEOUT_S, run_scenario, write

RSS_LIMIT = 300 * 1024 * 1024

HOSTILE = """\
name: hostile
target: http://127.0.0.1:1
flows:
  - name: f
    steps:
      - request: {name: big, url: /big, timeout: {total: 30s}}
      - request: {name: long-header, url: /long-header}
      - request: {name: endless, url: /endless, timeout: {total: 1s}}
plan:
  - {stage: s, users: 4, duration: 2s}
"""


def _tree_rss(process: psutil.Process) -> int:
    """The resident memory of a process and all its descendants now (gone ones count 0)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def _run_measuring_rss(args: list[str]) -> tuple[int, int, str]:
    """Run `loadlens ARGS`; its exit code, the peak RSS of its process tree, its stderr."""
    command = [sys.executable, "-m", "loadlens", *args]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        watched = psutil.Process(child.pid)
        peak = 0
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while child.poll() is None and time.monotonic() < deadline:
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.NoSuchProcess:
                break
            time.sleep(0.01)  # the sampling period, not a wait for an event
        if child.poll() is None:
            child.kill()
        _, stderr = child.communicate(timeout=30)
    return child.returncode, peak, stderr.decode(errors="replace")


def test_huge_endless_and_long_headed_responses_keep_memory_bounded(tmp_path: Path) -> None:
    scenario = write(tmp_path / "hostile.yaml", HOSTILE)
    out = tmp_path / "runs"
    with HostileServer() as url:
        # Two workers whatever the cores: the bound is for a coordinator and two workers.
        args = ["run", str(scenario), "--target", url, "--out", str(out), "--quiet"]
        args += ["--workers", "2"]
        code, peak, stderr = _run_measuring_rss(args)
    assert code in (0, 1, 3), stderr
    assert "Traceback" not in stderr
    print(f"peak RSS {peak / 2**20:.0f} MiB")
    assert peak <= RSS_LIMIT, f"peak RSS of the run's processes: {peak / 2**20:.0f} MiB"
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    result = read_result(run_dir / "result.json")
    big, header, endless = (result.operations[n] for n in ("big", "long-header", "endless"))
    # (A request still in flight when the stage ends may be `cancelled`.)
    assert set(big.outcomes) <= {"ok:200", "cancelled"}, big.outcomes
    assert big.outcomes["ok:200"] > 0
    assert big.bytes_received >= big.outcomes["ok:200"] * 50 * 1024 * 1024  # every byte counted
    (stage,) = result.stages
    truncated = stage.diagnostics["big"].features.counts["body:truncated"]
    assert truncated == {"ok:200": big.outcomes["ok:200"]}
    assert set(header.outcomes) <= {"error:protocol", "cancelled"}, header.outcomes
    assert header.outcomes["error:protocol"] > 0
    assert set(endless.outcomes) <= {"error:total_timeout", "cancelled"}, endless.outcomes
    assert endless.outcomes.get("error:total_timeout", 0) > 0


STALE_POST = """\
name: stale-post
target: http://127.0.0.1:1
flows:
  - name: f
    steps:
      - request: {name: first, method: POST, url: /once, json: {n: "{{ iteration }}"}}
      - request: {name: second, method: POST, url: /once, json: {n: "{{ iteration }}"}}
plan:
  - {stage: s, users: 2, duration: 1s}
"""


def test_a_post_the_server_read_before_closing_is_never_sent_again(tmp_path: Path) -> None:
    scenario = write(tmp_path / "stale.yaml", STALE_POST)
    server = HostileServer()
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
        served = server.counters()
    assert run.code in (0, 1, 3), run.stderr
    assert "Traceback" not in run.stderr
    ops = run.result().operations
    first, second = ops["first"], ops["second"]
    # (A request still in flight when the stage ends may be `cancelled`.)
    assert set(first.outcomes) <= {"ok:200", "cancelled"}, first.outcomes  # new connections
    # Each second POST met the connection its first left idle: the server read it and closed.
    assert set(second.outcomes) <= {"error:closed", "error:reset", "cancelled"}, second.outcomes
    assert second.count - second.outcomes.get("cancelled", 0) > 0
    assert served["POST /once"] <= first.count + second.count  # none was sent twice
