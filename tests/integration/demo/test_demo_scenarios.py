"""The bundled scenarios: all load cleanly, and high-contention shows what it reproduces."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from loadlens.demo import DemoServer
from loadlens.demo.db import DATABASE_NAME
from loadlens.demo.scenarios import SCENARIOS, scenario_path
from loadlens.spec import load_scenario
from tests.support.runs import loadlens

OVERBOOKED = "SELECT id FROM authorizations WHERE used_units + scheduled_units > total_units"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_bundled_scenario_loads(name: str) -> None:
    scenario = load_scenario(scenario_path(name))
    assert scenario.name == name
    assert scenario.target == "http://127.0.0.1:8000"


def test_every_yaml_file_is_catalogued() -> None:
    files = {path.stem for path in scenario_path("mixed").parent.glob("*.yaml")}
    assert files == set(SCENARIOS)


def _contend(server: DemoServer, tmp_path: Path) -> tuple[dict[str, int], list[tuple[int]]]:
    out = tmp_path / "runs"
    assert server.url is not None
    database = server.data_dir / DATABASE_NAME
    run = loadlens(
        "run",
        str(scenario_path("high-contention")),
        "--target",
        server.url,
        "--out",
        str(out),
        "--workers",
        "2",
        "--quiet",
        "--var",
        f"db=sqlite:///{database}",
        out=out,
    )
    # 0, 1 or 3: the gates' verdict (GO, NO-GO, INCONCLUSIVE); never invalid or interrupted
    assert run.code in (0, 1, 3), run.stderr
    with sqlite3.connect(database) as conn:
        overbooked = conn.execute(OVERBOOKED).fetchall()
    result = run.result()
    # loadlens's own invariant, run after the stage and at the end, agrees with the direct query
    invariants = [i for i in result.invariants if i.name == "no-overbooking"]
    assert invariants, result.invariants
    assert all(i.error is None for i in invariants), invariants
    assert all(i.violations == len(overbooked) for i in invariants), (invariants, overbooked)
    assert all(len(i.examples) == min(len(overbooked), 10) for i in invariants)
    if overbooked:
        assert result.verdict is not None and result.verdict.kind == "no_go"
        assert any("no-overbooking" in reason for reason in result.verdict.reasons)
    return result.operations["reserve"].outcomes, overbooked


def test_high_contention_books_exactly_five_of_fifty(
    start_demo: Callable[..., DemoServer], tmp_path: Path
) -> None:
    outcomes, overbooked = _contend(start_demo(), tmp_path)
    assert outcomes == {"ok:200": 5, "ok:409": 45}
    assert overbooked == []


def test_high_contention_overbooks_without_the_lock(
    start_demo: Callable[..., DemoServer], tmp_path: Path
) -> None:
    outcomes, overbooked = _contend(start_demo(faults=["no-lock"]), tmp_path)
    assert sum(outcomes.values()) == 50
    assert overbooked != []


def test_the_examples_are_copies_of_the_bundled_scenarios() -> None:
    bundled = scenario_path("mixed").parent
    examples = Path(__file__).parents[3] / "examples" / "demo"
    for path in [*bundled.glob("*.yaml"), *bundled.glob("data/*.csv")]:
        copy = examples / path.relative_to(bundled)
        assert copy.read_bytes() == path.read_bytes(), f"{copy} differs from {path}"
