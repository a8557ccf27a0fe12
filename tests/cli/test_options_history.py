"""`loadlens history --scenario` and `--limit` narrowing a history of two scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.history import history
from loadlens.metrics.result import write_result
from tests.unit.store.synthetic import lognormal, make_result

T0 = 1_763_600_000.0  # 2025-11-20 00:53:20 UTC


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOADLENS_STORE", raising=False)


def _listed(*args: str) -> list[tuple[str, str]]:
    result = CliRunner().invoke(history, ["--format", "json", *args])
    assert result.exit_code == 0, result.output
    return [(row["run_id"], row["scenario"]) for row in json.loads(result.output)]


def test_scenario_and_limit_narrow_the_list(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for i, scenario in enumerate(["shop", "cart", "shop", "cart", "shop"]):
        run_id = f"20251120-{i:02d}-{scenario}"
        result = make_result(
            run_id,
            {"read": (lognormal(10.0, 200, i), 0)},
            scenario=scenario,
            started_at=T0 + 60 * i,
        )
        (runs / run_id).mkdir(parents=True)
        write_result(result, runs / run_id / "result.json")
    store = f"sqlite:///{tmp_path / 'h.db'}"
    imported = CliRunner().invoke(history, ["import", str(runs), "--store", store])
    assert imported.exit_code == 0, imported.output

    assert len(_listed("--store", store)) == 5
    assert _listed("--store", store, "--scenario", "cart") == [
        ("20251120-03-cart", "cart"),
        ("20251120-01-cart", "cart"),
    ]
    assert _listed("--store", store, "--limit", "2") == [
        ("20251120-04-shop", "shop"),
        ("20251120-03-cart", "cart"),
    ]
    assert _listed("--store", store, "--scenario", "shop", "--limit", "1") == [
        ("20251120-04-shop", "shop")
    ]
