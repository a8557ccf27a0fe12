"""A `.py` scenario that exits or raises while being imported: a clear error, exit 2, nothing
sent — never exit 0 (which would read as GO)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.runs import run_scenario, write
from tests.support.testserver import LocalServer

EXITS = """\
import sys

from loadlens.scenario import flow, request, scenario, stage

sys.exit({code})
scenario = scenario(
    "never",
    target="http://127.0.0.1:1",
    flows=[flow("f", steps=[request("GET", "/users", name="find")])],
    plan=[stage("only", users=1, duration="1s")],
)
"""


@pytest.mark.parametrize("code", ["0", "'bye'"])  # the code that read as GO; a message
def test_sys_exit_at_import_is_invalid_input(tmp_path: Path, code: str) -> None:
    scenario = write(tmp_path / "exits.py", EXITS.format(code=code))
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs")
        served = server.counters()
    assert run.code == 2, run.stdout + run.stderr
    assert f"{scenario}:5:0: the scenario called sys.exit({eval(code)!r})" in run.stderr
    assert "Traceback" not in run.stderr
    assert served == {}  # nothing was sent


def test_an_exception_at_import_is_invalid_input(tmp_path: Path) -> None:
    scenario = write(tmp_path / "raises.py", "raise RuntimeError('no config')\n")
    run = run_scenario(scenario, "http://127.0.0.1:1", tmp_path / "runs")
    assert run.code == 2, run.stdout + run.stderr
    assert f"{scenario}:1:0: RuntimeError while importing: no config" in run.stderr
    assert "Traceback" not in run.stderr
