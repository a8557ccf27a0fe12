"""`loadlens run FILE` with -u/-r/-d [--stage], -e NAME=VALUE and --var, against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.main import cli
from tests.support.runs import run_scenario, write
from tests.support.testserver import LocalServer

SCENARIO = """\
name: overridden
target: http://127.0.0.1:1
vars:
  tenant: acme
  where: "{{ tenant }}/{{ token }}"  # the same for every user: resolved once
steps:
  - request: {name: find, method: GET, url: "/t/{{ where }}-${env:LL_TEST_KEY}"}
    expect: {status: 404}
plan:
  - {stage: warm, users: 1, duration: 30s}
  - {stage: load, rate: 10/s, duration: 30s}
"""


def test_overrides_reach_the_stages_and_the_requests(tmp_path: Path) -> None:
    scenario = write(tmp_path / "s.yaml", SCENARIO)
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(
            scenario, url, tmp_path / "runs",
            "--workers", "1", "-u", "2", "-r", "20/s", "-d", "1s",
            "-e", "LL_TEST_KEY=k1", "--var", "token=t1", "--var", "tenant=globex",
            env={"LL_TEST_KEY": "from-environment"},
        )  # fmt: skip
        served = server.counters()
    run.assert_go_unless_starved()
    result = run.result()
    loads = [(s.info.name, s.info.load, s.info.duration_s) for s in result.stages]
    assert [
        (name, load["model"], load.get("users", load.get("rate"))) for name, load, _ in loads
    ] == [
        ("warm", "closed", 2),
        ("load", "open", 20.0),
    ]
    assert [duration for *_, duration in loads] == [1.0, 1.0]
    # -e over the environment, --var filling the template and over the scenario's own `vars:`
    assert set(served) == {"GET /t/globex/t1-k1"}
    assert served["GET /t/globex/t1-k1"] == result.operations["find"].count


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (
            ("-u", "3", "--stage", "load"),
            "error: -u/--users changes closed (users) stages, and stage `load` is not one\n"
            "hint: -r/--rate changes the other kind of stage\n",
        ),
        (
            ("-d", "1s", "--stage", "lod"),
            "error: --stage lod: no such stage in the plan\nhint: did you mean `load`?\n",
        ),
        (
            ("--stage", "load"),
            "error: --stage NAME picks the stage that -u, -r or -d change; give one\n",
        ),
        (
            ("-d", "never"),
            "error: -d/--duration: `never` is not a duration "
            "(expected e.g. `200ms`, `30s`, `2m`, `1h`, `1m30s`)\n",
        ),
        (("-e", "LL_TEST_KEY"), "error: -e/--env takes NAME=VALUE, not `LL_TEST_KEY`\n"),
        (("--var", "=1"), "error: --var takes NAME=VALUE, not `=1`\n"),
    ],
)
def test_bad_overrides_are_refused_before_anything_is_sent(
    args: tuple[str, ...], output: str, tmp_path: Path
) -> None:
    scenario = write(tmp_path / "s.yaml", SCENARIO)
    runs = tmp_path / "runs"
    code, printed = _invoke(
        str(scenario), "--out", str(runs), "-e", "LL_TEST_KEY=k", "--var", "token=t", *args
    )
    assert (code, printed) == (2, output)
    assert not runs.exists()


def test_without_var_the_template_variable_is_reported_where_it_is_used(tmp_path: Path) -> None:
    scenario = write(tmp_path / "s.yaml", SCENARIO)
    code, printed = _invoke(str(scenario), "-e", "LL_TEST_KEY=k", "--out", str(tmp_path / "r"))
    assert (code, printed) == (
        2,
        f"{scenario}:5:10: vars.where: undefined variable `token`\n",
    )
