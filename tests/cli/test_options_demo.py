"""`loadlens demo` options: `demo serve --port 0` (the bound URL is printed), --fault (switched
on in the service) and --data (the database lives there and stays after Ctrl-C); `demo
--scenario NAME --fault NAME` runs that scenario against the faulted service."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from loadlens.demo.db import DATABASE_NAME
from loadlens.errors import EXIT_INTERRUPTED
from loadlens.metrics.result import read_result
from tests.support.runs import Finished, loadlens

START_TIMEOUT_S = 60  # bounded: the service binds and seeds its database in about a second


def _health(url: str) -> dict[str, object]:
    """GET /health once the service accepts connections. The URL is printed when the socket
    is bound, before uvicorn listens and before the database is seeded: until then a connection
    is refused (a short start-up window, waited for here and reported as a wart)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=START_TIMEOUT_S) as response:
                health: dict[str, object] = json.load(response)
                return health
        except urllib.error.URLError as error:
            if not isinstance(error.reason, ConnectionRefusedError):
                raise
            assert time.monotonic() < deadline, "the demo service never listened"
            time.sleep(0.05)


def test_serve_uses_the_port_faults_and_data_directory_given(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with subprocess.Popen(
        [sys.executable, "-m", "loadlens", "demo", "serve", "--port", "0",
         "--fault", "small-pool", "--data", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # printed once the socket is bound
            assert first.startswith("demo service: http://127.0.0.1:"), first
            assert first.endswith(" (faults: small-pool; Ctrl-C stops)\n"), first
            url = first.split()[2]
            assert not url.endswith(":0")  # --port 0: a free port was picked
            assert _health(url)["faults"] == ["small-pool"]
            assert (data / DATABASE_NAME).is_file()
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=START_TIMEOUT_S)
    assert code == EXIT_INTERRUPTED
    assert (data / DATABASE_NAME).is_file()  # --data is the user's: kept after the service


def _demo(out: Path, *options: str) -> Finished:
    return loadlens(
        "demo", "--quick", "--scenario", "high-contention", *options,
        "--workers", "1", "--quiet", "--out", str(out), out=out,
    )  # fmt: skip


def test_demo_runs_the_scenario_named_with_the_fault_switched_on(tmp_path: Path) -> None:
    # high-contention: 50 concurrent reservations of 10 units on a 50-unit authorization (3 s)
    locked = _demo(tmp_path / "locked")
    unlocked = _demo(tmp_path / "no-lock", "--fault", "no-lock")
    assert locked.stdout.startswith("demo service: http://127.0.0.1:"), locked.stdout
    assert "(faults: none)" in locked.stdout.splitlines()[0]
    assert "(faults: no-lock)" in unlocked.stdout.splitlines()[0]
    results = {}
    for name, run in (("locked", locked), ("no-lock", unlocked)):
        (path,) = run.out.glob("2*/result.json")
        results[name] = read_result(path)
        assert results[name].run.scenario == "high-contention"
    assert results["locked"].operations["reserve"].outcomes == {"ok:200": 5, "ok:409": 45}
    assert [i.passed for i in results["locked"].invariants] == [True]
    assert locked.code in (0, 3), locked.stdout  # GO, or too few samples for its gates
    # without the lock, check-then-write races: more than 5 reservations succeed
    assert [i.passed for i in results["no-lock"].invariants] == [False], unlocked.stdout
    assert unlocked.code == 1, unlocked.stdout


def test_tour_runs_only_the_faults_named_and_prints_their_row(tmp_path: Path) -> None:
    # no-lock: the cheapest fault (high-contention, 3 s) and a robust finding: the invariant
    # over the database counts the overbooking whatever the machine's speed (the no-lock race
    # window is 25 ms, demo/faults.py). The whole tour would take minutes.
    out = tmp_path / "runs"
    run = loadlens(
        "demo", "--tour", "--fault", "no-lock", "--workers", "1", "--out", str(out), out=out
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr  # every fault toured got its finding
    lines = run.stdout.splitlines()
    assert lines[0] == "tour: no-lock (high-contention) ..."
    assert [line for line in lines if line.startswith("tour: ")] == [lines[0]]
    header, row = lines[-2:]
    assert header.split() == ["fault", "scenario", "top", "finding", "expected", "verdict"]
    assert row.split() == [
        "no-lock", "high-contention", "integrity", "/", "service_bug", "yes", "NO-GO",
    ]  # fmt: skip
    (result,) = out.glob("2*/result.json")  # one run: only the fault named
    assert read_result(result).run.scenario == "high-contention"


def test_tour_refuses_an_unknown_fault_before_running_any(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    run = loadlens("demo", "--tour", "--fault", "nope", "--out", str(out), out=out)
    assert run.code == 2
    assert "unknown fault(s): nope; valid faults: " in run.stderr
    assert "tour:" not in run.stdout
    assert not out.exists() or not list(out.glob("2*"))
