"""`loadlens validate --var`: a template variable the file leaves to the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from loadlens.cli.main import cli
from tests.support.runs import write

SCENARIO = """\
name: templated
target: http://127.0.0.1:1
vars:
  tenant: acme
  where: "{{ tenant }}/{{ token }}"
steps:
  - request: {name: find, method: GET, url: "/t/{{ where }}"}
plan:
  - {stage: warm, users: 1, duration: 30s}
"""


def test_var_defines_what_the_scenario_leaves_undefined(tmp_path: Path) -> None:
    scenario = write(tmp_path / "s.yaml", SCENARIO)
    without = CliRunner().invoke(cli, ["validate", str(scenario)])
    assert (without.exit_code, without.output) == (
        2,
        f"{scenario}:5:10: vars.where: undefined variable `token`\n",
    )
    given = CliRunner().invoke(cli, ["validate", str(scenario), "--var", "token=t1"])
    assert (given.exit_code, given.output) == (0, "ok: templated — 1 flow, 1 stage, 1 operation\n")
