"""`loadlens validate`: exact output, exit codes, and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.main import cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scenarios"

# fixture -> what follows `PATH` on its one line of output
EXPECTED = {
    "bad_env_unset.yaml": ":5:20: defaults.headers.authorization: environment variable "
    "`LOADLENS_TEST_UNSET_TOKEN` is not set (`${env:LOADLENS_TEST_UNSET_TOKEN}`)",
    "bad_feeder_column.yaml": ":8:37: flows[0].steps[0].request.url: feeder `names` has no "
    "column `nme` (columns: name, email)",
    "bad_jsonpath.yaml": ":7:23: flows[0].steps[0].capture.id: bad JSONPath `$.items[x]`: "
    "expected `[index]`, `['key']` or `[*]` at column 8",
    "bad_method.yaml": ":6:27: flows[0].steps[0].request.method: unknown HTTP method `GTE` "
    "(did you mean `GET`?)",
    "bad_missing_csv.yaml": f":4:16: data.names.csv: file not found: {FIXTURES}/no-such-file.csv",
    "bad_missing_target.yaml": ":1:1: target: missing required key `target` (or give --target URL)",
    "bad_negative_duration.yaml": ":8:40: plan[0].duration: must be a positive duration, got -5s",
    "bad_syntax.yaml": ":7:5: invalid YAML: did not find expected ',' or '}'",
    "bad_unclosed_template.yaml": ":7:37: flows[0].steps[0].request.url: unclosed `{{` "
    "(a reference ends with `}}`)",
    "bad_undefined_variable.yaml": ":8:37: flows[0].steps[1].request.url: undefined variable "
    "`user_ids` (did you mean `user_id`?)",
    "bad_unknown_key.yaml": ":6:45: flows[0].steps[0].request.heders: unknown key `heders` "
    "(did you mean `headers`?)",
    "bad_url.yaml": ":6:37: flows[0].steps[0].request.url: bad URL `users` (start with `/` "
    "(relative to the target) or `http://` / `https://`)",
    "bad_zero_weight.yaml": ":4:3: flows: the flows' weights add up to 0 (give one a weight > 0)",
}


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_valid_scenario_is_summarised() -> None:
    code, output = _invoke(str(FIXTURES / "crud_70_30.yaml"))
    assert (code, output) == (0, "ok: users-crud — 2 flows, 2 stages, 6 operations\n")


def test_python_scenario_is_summarised() -> None:
    code, output = _invoke(str(FIXTURES / "crud_70_30.py"))
    assert (code, output) == (0, "ok: users-crud — 2 flows, 2 stages, 6 operations\n")


def test_target_option_overrides() -> None:
    code, output = _invoke(str(FIXTURES / "bad_missing_target.yaml"), "--target", "http://h:9")
    assert (code, output) == (0, "ok: bad — 1 flow, 1 stage, 1 operation\n")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_scenario_exits_2_with_its_problem(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOADLENS_TEST_UNSET_TOKEN", raising=False)
    path = FIXTURES / name
    assert _invoke(str(path)) == (2, f"{path}{EXPECTED[name]}\n")


def test_every_problem_is_printed_on_its_own_line() -> None:
    code, output = _invoke(str(FIXTURES / "bad_many.yaml"))
    assert code == 2
    lines = output.splitlines()
    assert len(lines) == 12
    assert lines[0] == (
        f"{FIXTURES / 'bad_many.yaml'}:2:9: target: bad target URL `ftp://127.0.0.1`: "
        "expected `http://host[:port]` or `https://...`"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert _invoke(str(path)) == (2, f"{path}:0:0: no such scenario file\n")


def test_python_file_that_raises() -> None:
    path = FIXTURES / "bad_python.py"
    code, output = _invoke(str(path))
    assert code == 2
    assert output.startswith(f"{path}:6:0: KeyError while importing: 'target'")
