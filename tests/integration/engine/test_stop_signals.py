"""SIGTERM and SIGHUP stop a run like Ctrl-C: the partial result is written, marked with the
signal, the exit code is 128 + its number, and no process of the run is left sending requests.
A SIGKILL of the coordinator takes its workers with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadlens.metrics.result import read_result
from tests.support.runs import op_counts, write
from tests.support.testserver import LocalServer

GRACE_S = 2
LONG = f"""\
name: long
target: http://127.0.0.1:1
flows:
  - name: crud
    steps:
      - request: {{name: create, method: POST, url: /users, json: {{name: a}}}}
        capture: {{id: $.id}}
      - request: {{name: read, method: GET, url: "/users/{{{{ id }}}}"}}
plan:
  - {{stage: first, users: 4, duration: 60s, grace: {GRACE_S}s}}
  - {{stage: second, users: 4, duration: 60s, grace: {GRACE_S}s}}
"""
# Beyond the grace, what a process of the run may take to exit (interpreter teardown on a busy
# machine); the processes are waited for, not slept on.
_EXIT_BOUND_S = GRACE_S + 15


def _start_run(scenario: Path, url: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "loadlens", "run", str(scenario), "--target", url,
         "--out", str(out), "--workers", "2", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job would have
    )  # fmt: skip


def _wait_for_frames(out: Path, lines: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        for frames in out.glob("*/frames.jsonl"):
            if frames.read_text(encoding="utf-8").count("\n") >= lines:
                return
        time.sleep(0.1)
    raise AssertionError("the run wrote no frames in time")


def _descendants(pid: int) -> list[psutil.Process]:
    """Every process the run started (workers, multiprocessing's resource tracker)."""
    children = psutil.Process(pid).children(recursive=True)
    assert children, "the run has no worker processes"
    return children


def _survivors(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running after at most `_EXIT_BOUND_S` (a zombie sends nothing)."""
    _, alive = psutil.wait_procs(processes, timeout=_EXIT_BOUND_S)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize(
    ("signum", "whole_group", "code"),
    [
        (signal.SIGTERM, False, 143),  # `docker stop`, `kill`: the coordinator only
        (signal.SIGHUP, True, 129),  # the terminal closed: the whole process group
    ],
)
def test_a_stop_signal_writes_the_partial_result_and_leaves_no_process(
    tmp_path: Path, signum: signal.Signals, whole_group: bool, code: int
) -> None:
    scenario = write(tmp_path / "long.yaml", LONG)
    out = tmp_path / "runs"
    server = LocalServer("crud")
    with server as url:
        process = _start_run(scenario, url, out)
        try:
            _wait_for_frames(out, lines=4, deadline=time.monotonic() + 60)
            children = _descendants(process.pid)
            if whole_group:
                os.killpg(process.pid, signum)
            else:
                os.kill(process.pid, signum)
        finally:
            stdout, stderr = _finish(process)
        assert _survivors(children) == []
        served = server.counters()
        assert server.counters() == served  # nobody is sending any more
    assert process.returncode == code, stdout + stderr
    assert "Traceback" not in stderr
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    result = read_result(run_dir / "result.json")
    assert (result.complete, result.interrupted, result.interrupted_by) == (
        False,
        True,
        signum.name,
    )
    assert [stage.ran for stage in result.stages] == [True, False]
    assert result.verdict is not None and result.verdict.stages_not_run == ("second",)
    counts = op_counts(result)
    assert counts["create"] > 0
    # what the run reports is exactly what the service received: nothing sent after the stop
    assert counts == {"create": served["POST /users"], "read": served["GET /users/{id}"]}
    assert (run_dir / "report.md").is_file()
    assert "INCOMPLETE" in stdout


# Answers the first N requests, then holds every later one forever (unanswered, in flight);
# stops by itself after two minutes. A test app of its own: no shared server hangs on purpose.
HANGING_SERVER = """
import asyncio, sys
answered, served = int(sys.argv[1]), 0
async def handle(reader, writer):
    global served
    try:
        while True:
            await reader.readuntil(b"\\r\\n\\r\\n")
            served += 1
            if served > answered:
                await asyncio.Event().wait()
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n{}")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""
HUNG = """\
name: hung
target: http://127.0.0.1:1
flows:
  - name: get
    steps:
      - request: {name: get, method: GET, url: /x}
plan:
  - {stage: only, users: 4, duration: 60s, grace: 60s}
"""
ANSWERED = 50


def test_a_second_signal_stops_at_once_and_still_writes_the_result(tmp_path: Path) -> None:
    scenario = write(tmp_path / "hung.yaml", HUNG)
    out = tmp_path / "runs"
    server = subprocess.Popen(
        [sys.executable, "-c", HANGING_SERVER, str(ANSWERED)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        process = _start_run(scenario, f"http://127.0.0.1:{port}", out)
        try:
            _wait_for_frames(out, lines=4, deadline=time.monotonic() + 60)
            children = _descendants(process.pid)
            # The first SIGTERM starts a graceful stop that the 4 unanswered requests would
            # hold for the whole 60 s grace; any later one stops the run at once. (Sent until
            # the run ends: two signals sent back to back may reach the handler as one.)
            for _ in range(40):
                os.kill(process.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.5)
                    break
        finally:
            stdout, stderr = _finish(process)
        assert _survivors(children) == []
    finally:
        server.kill()
        server.communicate()
    assert process.returncode == 143, stdout + stderr
    assert "Traceback" not in stderr
    assert "a second SIGTERM stopped the run at once" in stdout
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    result = read_result(run_dir / "result.json")
    assert result.interrupted and result.interrupted_by == "SIGTERM"
    # what had been reported is kept: every answered request, none of the unanswered ones
    assert result.operations["get"].outcomes == {"ok:200": ANSWERED}


def test_workers_die_with_a_killed_coordinator(tmp_path: Path) -> None:
    scenario = write(tmp_path / "long.yaml", LONG)
    out = tmp_path / "runs"
    server = LocalServer("crud")
    with server as url:
        process = _start_run(scenario, url, out)
        try:
            _wait_for_frames(out, lines=4, deadline=time.monotonic() + 60)
            children = _descendants(process.pid)
            os.kill(process.pid, signal.SIGKILL)  # no chance to tell anyone
        finally:
            _, stderr = _finish(process)
        assert _survivors(children) == []
        served = server.counters()
        assert server.counters() == served  # the load stopped with the coordinator
    assert process.returncode == -signal.SIGKILL
    assert "Traceback" not in stderr
