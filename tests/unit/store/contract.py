"""What every store must do, whatever the database behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.model.verdict import Verdict, VerdictKind
from loadlens.store import open_store
from tests.unit.store.synthetic import lognormal, make_result

T0 = 1_763_600_000.0


def check_store_contract(url: str, tmp_path: Path) -> None:
    """Record, list, filter, read series, re-record idempotently."""
    with open_store(url, tmp_path) as store:
        first = make_result(
            "r1", {"login": (lognormal(20, 500, 1), 5), "read": (lognormal(5, 500, 2), 0)}
        )
        second = make_result("r2", {"login": (lognormal(30, 400, 3), 0)}, started_at=T0 + 60)
        second.verdict = Verdict(VerdictKind.NO_GO, ("p95 over",))
        other = make_result(
            "r3", {"pay": (lognormal(9, 100, 4), 0)}, scenario="pay", started_at=T0 + 120
        )
        for result in (first, second, other):
            store.record(result, tmp_path / result.run.run_id)
        store.record(first, tmp_path / "r1")  # again: replaces, never duplicates

        runs = store.runs()
        assert [r.run_id for r in runs] == ["r3", "r2", "r1"]
        assert [r.run_id for r in store.runs(limit=1)] == ["r3"]
        assert [r.run_id for r in store.runs("shop")] == ["r2", "r1"]
        r1 = runs[2]
        assert (r1.requests, r1.verdict, r1.complete) == (1000, None, True)
        assert r1.error_rate == pytest.approx(5 / 1000)
        assert r1.rps == pytest.approx(100.0)
        assert r1.p95 == first.total.latency.p95
        assert r1.run_dir == str((tmp_path / "r1").absolute())
        assert runs[1].verdict == "no_go"

        series = store.series("shop", "login", "p95")
        assert [(p.run_id, p.started_at) for p in series] == [("r1", T0), ("r2", T0 + 60)]
        assert series[0].value == first.operations["login"].latency.p95
        assert [p.value for p in store.series("shop", "*", "count")] == [1000, 400]
        assert store.scenarios() == ["pay", "shop"]
        assert store.operations("shop") == ["*", "login", "read"]
        assert store.run_dir("r2") == (tmp_path / "r2").absolute()
        assert store.run_dir("nope") is None
        with pytest.raises(ValueError, match="unknown metric"):
            store.series("shop", "login", "nonsense")
