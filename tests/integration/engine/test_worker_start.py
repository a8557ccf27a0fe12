"""How workers start (`engine.launch`): forked on Linux when only one thread runs, else spawned;
a forked worker holds no other worker's channel and flushes none of the coordinator's files;
and the command's fast exit at the end (`cli.main.exit_now`)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from loadlens.cli.quick import build_quick_scenario
from loadlens.engine.compiled import compile_scenario
from loadlens.engine.coordinator import Coordinator, RunOptions
from loadlens.engine.launch import START_ENV, start_method
from loadlens.engine.placement import LocalWorkers
from loadlens.metrics.result import read_result
from tests.support.runs import op_counts
from tests.support.testserver import LocalServer

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux only")


def _processes(coordinator: Coordinator) -> list[multiprocessing.process.BaseProcess]:
    backend = coordinator.backend
    assert isinstance(backend, LocalWorkers)
    return list(backend._processes)


def _coordinator(tmp_path: Path, workers: int) -> Coordinator:
    # Nothing is sent: the port is never used, the workers only start and are told to exit.
    scenario = build_quick_scenario("http://127.0.0.1:9/", 1, None, "1s", "GET", (), None)
    return Coordinator(compile_scenario(scenario), RunOptions(out=tmp_path, workers=workers))


@linux_only
def test_fork_unless_a_thread_runs_or_spawn_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # The thread count is the test's to set: another test may have left a thread behind.
    threads = [1]
    monkeypatch.setattr(threading, "active_count", lambda: threads[0])
    monkeypatch.delenv(START_ENV, raising=False)
    assert start_method() == "fork"
    monkeypatch.setenv(START_ENV, "spawn")
    assert start_method() == "spawn"
    monkeypatch.setenv(START_ENV, "fork")
    assert start_method() == "fork"
    threads[0] = 2
    assert start_method() == "spawn"  # a thread could hold a lock at the fork


def _forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers forked whatever threads other tests left behind (idle ones: harmless here)."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.delenv(START_ENV, raising=False)


@linux_only
def test_a_forked_worker_holds_no_other_workers_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forked(monkeypatch)
    coordinator = _coordinator(tmp_path, workers=3)
    coordinator.start_workers()
    try:
        coordinator._await_workers()  # each has closed what it inherited and said READY
        assert not coordinator.failures
        ends = {os.fstat(conn.fileno()).st_ino for conn in coordinator._conns}
        for process in _processes(coordinator):
            assert process.pid is not None
            held = {
                os.readlink(f"/proc/{process.pid}/fd/{fd}")
                for fd in os.listdir(f"/proc/{process.pid}/fd")
            }
            # Each pipe end is its own socket: a worker holds its own end, none of ours.
            assert not {f"socket:[{inode}]" for inode in ends} & held
            assert psutil.Process(process.pid).cmdline() == psutil.Process().cmdline()
    finally:
        coordinator.close()


@linux_only
def test_a_forked_worker_flushes_none_of_the_coordinators_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forked(monkeypatch)
    path = tmp_path / "buffered.txt"
    with path.open("w", encoding="utf-8") as buffered:
        buffered.write("written once\n")  # still in the buffer when the workers fork
        coordinator = _coordinator(tmp_path, workers=2)
        coordinator.start_workers()
        processes = _processes(coordinator)
        coordinator.close()
        assert [process.exitcode for process in processes] == [0, 0]
    assert path.read_text(encoding="utf-8") == "written once\n"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_run_gives_the_same_result_shape_forked_or_spawned(tmp_path: Path, method: str) -> None:
    if method == "fork" and not sys.platform.startswith("linux"):
        pytest.skip("fork: Linux only")
    out = tmp_path / "runs"
    with LocalServer("crud") as url:
        completed = subprocess.run(
            [sys.executable, "-m", "loadlens", "quick", f"{url}/users", "-u", "2", "-d", "1s",
             "--workers", "2", "--quiet", "--out", str(out),
             "--store", f"sqlite:///{tmp_path / 'h.db'}"],
            env={**os.environ, START_ENV: method},
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    (directory,) = out.iterdir()
    result = read_result(directory / "result.json")
    assert result.complete and not result.lost_workers
    assert op_counts(result)["GET /users"] > 0
    frames = [json.loads(line) for line in (directory / "frames.jsonl").read_text().splitlines()]
    assert {frame["worker"] for frame in frames if frame["stage"] == 0} == {0, 1}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_worker_whose_channel_closes_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    # The guard beside PR_SET_PDEATHSIG (`lifetime`): end-of-file on the channel. A forked
    # worker that kept a copy of the coordinator's end would never see it.
    if method == "fork" and not sys.platform.startswith("linux"):
        pytest.skip("fork: Linux only")
    if method == "fork":
        _forked(monkeypatch)
    else:
        monkeypatch.setenv(START_ENV, method)
    coordinator = _coordinator(tmp_path, workers=2)
    coordinator.start_workers()
    coordinator._await_workers()
    processes = _processes(coordinator)
    for conn in coordinator._conns:
        conn.close()  # no EXIT: as if the coordinator were gone
    coordinator._conns.clear()
    for process in processes:
        process.join(30)
    assert [process.exitcode for process in processes] == [0, 0]
    coordinator.close()


def test_the_command_exits_at_once_with_its_code_and_everything_written(tmp_path: Path) -> None:
    # `main` ends a finished run with os._exit (`cli.main.exit_now`): the verdict's exit code
    # (NO-GO: every request is a 404) and the whole summary, piped, still come out, and the
    # history has the run.
    out = tmp_path / "runs"
    store = tmp_path / "h.db"
    with LocalServer("crud") as url:
        completed = subprocess.run(
            [sys.executable, "-m", "loadlens", "quick", f"{url}/missing", "-u", "1", "-d", "1s",
             "--workers", "1", "--quiet", "--out", str(out), "--store", f"sqlite:///{store}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert "NO-GO" in completed.stdout
    assert completed.stdout.rstrip().splitlines()[-1].startswith("report: ")
    (directory,) = out.iterdir()
    assert read_result(directory / "result.json").complete
    with sqlite3.connect(store) as db:
        assert db.execute("select run_id from loadlens_runs").fetchall() == [(directory.name,)]
