"""The run history on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from loadlens.metrics.result import write_result
from loadlens.store import open_store, record_run
from loadlens.store.importer import import_runs
from tests.unit.store.contract import check_store_contract
from tests.unit.store.synthetic import lognormal, make_result

pytestmark = pytest.mark.postgres


@pytest.fixture
def clean_pg(pg_url: str) -> Iterator[str]:
    """The database emptied of loadlens tables before and after the test."""

    def drop() -> None:
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS loadlens_metrics, loadlens_runs"))
        engine.dispose()

    drop()
    yield pg_url
    drop()


def test_the_store_contract_holds_on_postgres(clean_pg: str, tmp_path: Path) -> None:
    check_store_contract(clean_pg, tmp_path)


def test_a_run_recorded_while_postgres_is_down_is_imported_later(
    clean_pg: str, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    result = make_result("r1", {"read": (lognormal(5, 300, 1), 2)})
    write_result(result, run_dir / "result.json")
    down = record_run(result, run_dir, url="postgresql+psycopg://u:p@127.0.0.1:1/x")
    assert not down.stored
    assert (run_dir / "result.json").is_file()
    with open_store(clean_pg, tmp_path) as store:
        assert store.runs() == []
        assert import_runs(store, [tmp_path / "runs"]).imported == [("r1", run_dir)]
        assert import_runs(store, [run_dir]).imported == [("r1", run_dir)]  # idempotent
        [stored] = store.runs()
    assert (stored.run_id, stored.requests) == ("r1", 300)
    assert record_run(result, run_dir, url=clean_pg).stored
