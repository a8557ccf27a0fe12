"""`--prometheus`, `--otlp` and `--dashboard` on `run` and `quick`: a bad value is refused at
once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.main import cli

SCENARIO = """\
name: s
target: http://127.0.0.1:1
steps:
  - request: {method: GET, url: /}
plan:
  - {stage: s, users: 1, iterations: 1}
"""

# (option, a bad value, the whole of what stderr must say)
BAD_VALUES = [
    (
        "--prometheus",
        "127.0.0.1:99999",
        "error: --prometheus wants [HOST:]PORT with a port from 0 to 65535, "
        "not '127.0.0.1:99999'\n"
        "hint: e.g. --prometheus 9464 or --prometheus 127.0.0.1:0 (any free port)\n",
    ),
    (
        "--otlp",
        "127.0.0.1:4318",
        "error: --otlp wants an http:// or https:// URL of an OTLP/HTTP collector, "
        "not '127.0.0.1:4318'\n"
        "hint: e.g. --otlp http://127.0.0.1:4318 (sends to /v1/metrics)\n",
    ),
    (
        "--dashboard",
        "web:80a",
        "error: --dashboard wants [HOST:]PORT with a port from 0 to 65535, not 'web:80a'\n"
        "hint: e.g. --dashboard 8089 or --dashboard 127.0.0.1:0 (any free port)\n",
    ),
]


@pytest.mark.parametrize("command", ["run", "quick"])
@pytest.mark.parametrize(("option", "value", "stderr"), BAD_VALUES)
def test_a_bad_output_option_is_refused_before_anything_starts(
    tmp_path: Path, command: str, option: str, value: str, stderr: str
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    what = str(scenario) if command == "run" else "http://127.0.0.1:1/"
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, [command, what, "--out", str(out), option, value])
    assert result.exit_code == 2, result.output
    assert result.stderr == stderr
    assert not out.exists()
