"""`generator:`: the limits that judge the generator's own health, validated with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.errors import SpecError
from loadlens.model.generator import GeneratorLimits, LagBound
from loadlens.spec import load_scenario

BASE = """name: gen
target: http://127.0.0.1:8000
flows:
  - name: f
    steps:
      - request: {name: get, method: GET, url: /}
plan:
  - {stage: smoke, users: 1, duration: 1s}
"""


def _load(tmp_path: Path, block: str) -> GeneratorLimits:
    path = tmp_path / "scenario.yaml"
    path.write_text(BASE + block, encoding="utf-8")
    return load_scenario(path).generator


def test_absent_block_gives_the_documented_defaults(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == GeneratorLimits(90.0, 0.20, LagBound.MAX)


def test_every_limit_can_be_set(tmp_path: Path) -> None:
    block = "generator: {max_cpu: 75%, saturated_seconds: 10%, lag_bound: p99}\n"
    assert _load(tmp_path, block) == GeneratorLimits(75.0, 0.10, LagBound.P99)


@pytest.mark.parametrize(
    ("block", "key", "fragment"),
    [
        ("generator: {max_cpu: 190%}\n", "generator.max_cpu", "at most 100%"),
        ("generator: {max_cpu: lots}\n", "generator.max_cpu", "like `90%`"),
        ("generator: {lag_bound: p50}\n", "generator.lag_bound", "`max`, `p99`, got `p50`"),
        ("generator: {max_lag: 5ms}\n", "generator.max_lag", "unknown key `max_lag`"),
        ("generator: 90%\n", "generator", "expected a mapping of generator limits"),
    ],
)
def test_bad_limits_name_file_line_and_key(
    tmp_path: Path, block: str, key: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, block)
    (problem,) = caught.value.problems
    assert problem.line == 9 and problem.key == key and fragment in problem.message
    assert problem.file.endswith("scenario.yaml")
