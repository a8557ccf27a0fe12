"""The verdict on a busy machine: a CPU hog on every core runs beside loadlens, and gates that
fail or pass by 3× or more still give NO-GO and GO, every time (docs/thresholds.md).

Each run holds ten half-second stages, each judged on its own gate (`--continue-on-fail` runs
them all), so one run gives ten repetitions; the hog is our own busy processes, one per core,
started before and killed after, always.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loadlens.model.verdict import GateStatus, VerdictKind
from tests.support.fixed_server import DELAY_S, FixedServer
from tests.support.runs import loadlens, write

REPETITIONS = 10
SERVICE_MS = DELAY_S * 1000  # what the service takes: 100 ms
# The service answers in 100 ms; beside the hog it measures 110-400 ms (it is starved too, and
# this machine is shared), with event-loop stalls of up to ~150 ms: the targets keep a margin
# of 3× or more from all of that, as the acceptance asks, and no more.
FAILING = f"p95 < {SERVICE_MS / 10:g}ms"  # against 10 ms: failing by 10× or more
PASSING = f"p95 < {SERVICE_MS * 10:g}ms"  # against 1 s: passing by 10× (2.5× or more measured)


def _scenario(gate: str) -> str:
    # 50 users each waiting 100 ms: about 250 requests per 0.5 s stage, 2.5 times the 100
    # samples a p95 needs (and a clear answer is judged on fewer, docs/thresholds.md); more
    # users would slow the starved test server itself, which is not what is tested here
    stages = "\n".join(
        f'  - {{stage: s{i}, users: 50, duration: 500ms, gates: ["{gate}"]}}'
        for i in range(REPETITIONS)
    )
    return f"""\
name: noisy-host
target: http://127.0.0.1:1
flows:
  - name: slow
    steps:
      - request: {{name: slow, method: GET, url: /slow}}
plan:
{stages}
"""


@contextmanager
def cpu_hog() -> Iterator[None]:
    """One busy process per core for as long as the block runs; killed whatever happens."""
    hogs = []
    try:
        for _ in range(os.cpu_count() or 1):
            hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(timeout=10)


def _run(tmp_path: Path, url: str, gate: str, name: str) -> tuple[int, object]:
    scenario = write(tmp_path / f"{name}.yaml", _scenario(gate))
    out = tmp_path / name
    run = loadlens(
        "run",
        str(scenario),
        "--target",
        url,
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
        "--continue-on-fail",
        out=out,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.code, run


def test_gates_far_from_their_target_decide_the_same_on_a_busy_host(tmp_path: Path) -> None:
    with FixedServer() as url, cpu_hog():
        failing_code, failing = _run(tmp_path, url, FAILING, "failing")
        passing_code, passing = _run(tmp_path, url, PASSING, "passing")

    failed = failing.result()  # type: ignore[attr-defined]
    statuses = [g.status for g in failed.gates]
    assert statuses == [GateStatus.FAILED] * REPETITIONS, [
        (g.stage, g.status.value, g.measured_text, g.bound_ms, g.bound_cause) for g in failed.gates
    ]
    assert failed.verdict.kind is VerdictKind.NO_GO and failing_code == 1

    passed = passing.result()  # type: ignore[attr-defined]
    statuses = [g.status for g in passed.gates]
    assert statuses == [GateStatus.PASSED] * REPETITIONS, [
        (g.stage, g.status.value, g.measured_text, g.bound_ms, g.bound_cause) for g in passed.gates
    ]
    assert passed.verdict.kind is VerdictKind.GO, passed.verdict.reasons
    assert passing_code == 0
