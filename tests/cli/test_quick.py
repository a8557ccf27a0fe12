"""`loadlens quick URL`: a one-stage run from the command line, shaped as a file scenario's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.main import cli
from tests.support.runs import Finished, loadlens, write
from tests.support.testserver import LocalServer

SAME_AS_FILE = """\
name: quick
target: http://127.0.0.1:1
steps:
  - request: {method: GET, url: /users}
plan:
  - {stage: quick, users: 5, duration: 3s}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    local = LocalServer("crud")
    with local:
        yield local


def _quick(out: Path, *args: str) -> Finished:
    return loadlens("quick", *args, "--out", str(out), "--quiet", "--workers", "1", out=out)


def _shape(result: dict[str, object]) -> dict[str, object]:
    """The key sets of a result.json and of its parts (operation names left out)."""

    def keys(value: object) -> list[str]:
        assert isinstance(value, dict), value
        return sorted(value)

    stages: list[dict[str, object]] = result["stages"]  # type: ignore[assignment]
    operations: dict[str, object] = result["operations"]  # type: ignore[assignment]
    series: list[object] = result["series"]  # type: ignore[assignment]
    stage = stages[0]
    info: dict[str, object] = stage["info"]  # type: ignore[assignment]
    return {
        "top": keys(result),
        "run": keys(result["run"]),
        "stage": keys(stage),
        "stage.info": keys(info),
        "stage.info.load": keys(info["load"]),
        "stage.operations": [keys(op) for op in stage["operations"].values()],  # type: ignore[attr-defined]
        "operations": [keys(op) for op in operations.values()],
        "total": keys(result["total"]),
        "series": keys(series[0]),
        "stages": len(stages),
    }


def test_quick_gives_the_result_shape_of_a_file_scenario(
    server: LocalServer, tmp_path: Path
) -> None:
    quick = _quick(tmp_path / "quick", f"{server.url}/users", "-u", "5", "-d", "3s")
    scenario = write(tmp_path / "quick.yaml", SAME_AS_FILE)
    out = tmp_path / "file"
    from_file = loadlens(
        "run", str(scenario), "--target", server.url, "--out", str(out), "--quiet",
        "--workers", "1", out=out,
    )  # fmt: skip
    quick.assert_go_unless_starved()
    from_file.assert_go_unless_starved()
    results = [json.loads((f.run_dir / "result.json").read_text()) for f in (quick, from_file)]
    assert _shape(results[0]) == _shape(results[1])
    files = {p.name for p in from_file.run_dir.iterdir()} - {"scenario.yaml"}  # no file to copy
    assert {p.name for p in quick.run_dir.iterdir()} == files
    stage = results[0]["stages"][0]["info"]
    assert (stage["name"], stage["load"], stage["duration_s"]) == (
        "quick",
        {"model": "closed", "start_users": 5, "users": 5},
        3.0,
    )
    assert list(results[0]["operations"]) == ["GET /users"]
    assert (tmp_path / "quick" / "history.db").is_file()  # recorded, as `run` records


def test_quick_sends_method_headers_and_body_at_a_rate(server: LocalServer, tmp_path: Path) -> None:
    before = server.counters().get("POST /users", 0)
    run = _quick(
        tmp_path,
        f"{server.url}/users",
        "-r", "20/s", "-d", "1s", "-m", "post",
        "-H", "content-type: application/json", "-H", "x-trace: quick",
        "--body", '{"name": "q"}',
    )  # fmt: skip
    run.assert_go_unless_starved()
    result = run.result()
    operation = result.operations["POST /users"]
    assert operation.outcomes == {"ok:201": operation.count}  # the body parsed as JSON
    assert server.counters()["POST /users"] - before == operation.count
    load = result.stages[0].info.load
    assert (load["model"], load["rate"]) == ("open", 20.0)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["quick", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (
            ("http://127.0.0.1:1/x", "-u", "0"),
            "<command line>:0:0: -u/--users: must be at least 1, got 0\n",
        ),
        (
            ("http://127.0.0.1:1/x", "-m", "BREW"),
            "<command line>:0:0: -m/--method: unknown HTTP method `BREW` "
            "(one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)\n",
        ),
        (
            ("http://127.0.0.1:1/x", "-d", "soon"),
            "<command line>:0:0: -d/--duration: `soon` is not a duration "
            "(expected e.g. `200ms`, `30s`, `2m`, `1h`, `1m30s`)\n",
        ),
        (
            ("http://127.0.0.1:1/x", "-r", "lots"),
            "<command line>:0:0: -r/--rate: `lots` is not a rate "
            "(expected e.g. `100/s`, `600/m`, `10/h`)\n",
        ),
        (
            ("http://127.0.0.1:1/x", "-u", "2", "-r", "5/s"),
            "error: give -u/--users or -r/--rate, not both\n",
        ),
        (
            ("http://127.0.0.1:1/x", "-H", "nocolon"),
            "error: -H takes 'NAME: VALUE', not `nocolon`\n",
        ),
        (
            ("127.0.0.1:1/x",),
            "error: URL `127.0.0.1:1/x`: expected `http://host[:port][/path]` or `https://...`\n",
        ),
        (
            ("http://127.0.0.1:1/x", "--workers", "0"),
            "error: --workers must be at least 1, not 0\n",
        ),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    args: tuple[str, ...], output: str, tmp_path: Path
) -> None:
    code, printed = _invoke(*args, "--out", str(tmp_path / "runs"))
    assert (code, printed) == (2, output)
    assert not (tmp_path / "runs").exists()


def test_quick_is_listed_in_the_help() -> None:
    code, output = (
        CliRunner().invoke(cli, ["--help"]).exit_code,
        CliRunner().invoke(cli, ["--help"]).output,
    )
    assert code == 0
    assert "  quick     Load one URL from the command line, no scenario file" in output


def test_quick_refuses_the_options_that_act_only_on_a_files_plan() -> None:
    # quick's plan is one stage it builds: nothing to continue past, no stage to name, the
    # target is the URL's. `run` keeps them (their effect: tests/cli/test_run_overrides.py,
    # tests/integration/engine/test_gates_end_to_end.py for --continue-on-fail).
    run_help = CliRunner().invoke(cli, ["run", "--help"]).output
    quick_help = CliRunner().invoke(cli, ["quick", "--help"]).output
    # click's own message, with its guesses at what was meant
    refusals = {
        "--continue-on-fail": "No such option '--continue-on-fail'.",
        "--stage": "No such option '--stage'. (Did you mean one of: '--rate', '--store'?)",
        "--target": "No such option '--target'. (Did you mean one of: '--store', '--var'?)",
        "--no-preflight": "No such option '--no-preflight'.",
    }
    for option, message in refusals.items():
        refused = CliRunner().invoke(
            cli, ["quick", "http://127.0.0.1:1/x", option, "x"], prog_name="loadlens"
        )
        assert (refused.exit_code, refused.output) == (
            2,
            "Usage: loadlens quick [OPTIONS] URL\n"
            "Try 'loadlens quick --help' for help.\n\n"
            f"Error: {message}\n",
        )
        assert f"  {option} " in run_help
        assert f"  {option} " not in quick_help
    assert "  --quiet " in quick_help  # the shared options are still quick's


def test_quick_env_values_are_secrets_and_the_run_goes_to_the_given_store(
    server: LocalServer, tmp_path: Path
) -> None:
    token = "tok-5e3c1d2b9a"
    store = tmp_path / "elsewhere.db"
    run = _quick(
        tmp_path / "runs",
        f"{server.url}/users?limit=2",
        "-u", "1", "-d", "1s",
        "-H", "authorization: Bearer ${env:LL_QUICK_TOKEN}", "-e", f"LL_QUICK_TOKEN={token}",
        "--store", f"sqlite:///{store}",
    )  # fmt: skip
    run.assert_go_unless_starved()
    assert list(run.result().operations) == ["GET /users"]
    assert store.is_file()
    assert not (tmp_path / "runs" / "history.db").exists()
    for path in run.run_dir.rglob("*"):
        assert token not in path.read_text(encoding="utf-8", errors="replace"), path
    assert token not in run.stdout + run.stderr
