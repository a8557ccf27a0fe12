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
        args = ["run", str(scenario), "--target", url, "--out", str(out), "--quiet"]
        code, peak, stderr = _run_measuring_rss(args)
    assert code in (0, 1, 3), stderr
    assert "Traceback" not in stderr
    print(f"peak RSS {peak / 2**20:.0f} MiB")
    assert peak <= RSS_LIMIT, f"peak RSS of the run's processes: {peak / 2**20:.0f} MiB"
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    result = read_result(run_dir / "result.json")
    big, header, endless = (result.operations[n] for n in ("big", "long-header", "endless"))
    assert big.count > 0 and big.outcomes == {"ok:200": big.count}
    assert big.bytes_received >= big.count * 50 * 1024 * 1024  # every byte counted
    (stage,) = result.stages
    truncated = stage.diagnostics["big"].features.counts["body:truncated"]
    assert truncated == {"ok:200": big.count}
    assert header.count > 0 and header.outcomes == {"error:protocol": header.count}
    assert endless.count > 0
    assert set(endless.outcomes) <= {"error:total_timeout", "cancelled"}, endless.outcomes


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
    assert first.outcomes == {"ok:200": first.count}  # each on a new connection
    # Each second POST met the connection its first left idle: the server read it and closed.
    assert second.count > 0
    assert set(second.outcomes) <= {"error:closed", "error:reset"}, second.outcomes
    assert served["POST /once"] == first.count + second.count  # none was sent twice
