"""The run history on SQLite: record, list, series, idempotent re-import, failures mapped."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.metrics.result import write_result
from loadlens.store import StoreError, open_store, record_run, resolve_url
from loadlens.store.changes import history_changes
from loadlens.store.importer import import_runs
from tests.unit.store.contract import check_store_contract
from tests.unit.store.synthetic import lognormal, make_result


def test_the_store_contract_holds_on_sqlite(tmp_path: Path) -> None:
    check_store_contract(f"sqlite:///{tmp_path / 'h.db'}", tmp_path)


def test_the_default_store_lives_beside_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOADLENS_STORE", raising=False)
    assert resolve_url(None, tmp_path) == f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("LOADLENS_STORE", "sqlite:///elsewhere.db")
    assert resolve_url(None, tmp_path) == "sqlite:///elsewhere.db"
    assert resolve_url("sqlite:///given.db", tmp_path) == "sqlite:///given.db"


def test_record_run_reports_an_unreachable_store_and_the_import_brings_it_in(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    result = make_result("r1", {"read": (lognormal(5, 100, 1), 0)})
    write_result(result, run_dir / "result.json")
    outcome = record_run(result, run_dir, url="postgresql+psycopg://u:secret@127.0.0.1:1/x")
    assert not outcome.stored
    assert outcome.error is not None
    assert "secret" not in outcome.error.message
    assert "127.0.0.1:1" in outcome.error.message
    assert (run_dir / "result.json").is_file()
    with open_store(None, tmp_path / "runs") as store:
        report = import_runs(store, [tmp_path / "runs"])
        assert report.imported == [("r1", run_dir)]
        assert [r.run_id for r in store.runs()] == ["r1"]


def test_record_run_stores_in_the_default_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOADLENS_STORE", raising=False)
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    outcome = record_run(make_result("r1", {"read": (lognormal(5, 100, 1), 0)}), run_dir)
    assert outcome.stored
    assert (tmp_path / "history.db").is_file()


def test_a_bad_url_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the run history"):
        open_store("nosuchdb://x", tmp_path)


def test_import_reports_unreadable_and_empty_directories(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "result.json").write_text("{", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    with open_store(f"sqlite:///{tmp_path / 'h.db'}", tmp_path) as store:
        report = import_runs(store, [tmp_path / "broken", tmp_path / "empty"])
    assert report.imported == []
    assert [path.name for path, _ in report.failed] == ["empty", "broken"]


def test_history_changes_finds_a_step_in_p95(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'h.db'}", tmp_path) as store:
        for i in range(16):
            median = 10.0 if i < 10 else 14.0
            result = make_result(
                f"run-{i:02d}",
                {"read": (lognormal(median, 2000, i), 0)},
                started_at=1_763_600_000.0 + 60 * i,
            )
            store.record(result, tmp_path / f"run-{i:02d}")
        changes = history_changes(store, "shop")
    found = {(c.operation, c.metric, c.run_id) for c in changes}
    assert ("read", "p95", "run-10") in found
    assert ("read", "p50", "run-10") in found
    assert all(c.run_id == "run-10" for c in changes)
