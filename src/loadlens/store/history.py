"""The run history: every run's metadata and summary metrics in a SQL database.

How it works: the run directory (result.json) is the source of truth; the store is an index
of it, rebuilt at will by `loadlens history import`. Recording a run is one transaction that
deletes whatever the store held for that run id and inserts it afresh, so re-importing a run
is idempotent. Every SQLAlchemy or driver error is turned into a StoreError at this boundary,
with the URL's password hidden.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadlens.analysis.compare import rate, run_duration_s
from loadlens.metrics.result import OpStats, RunResult
from loadlens.store import schema
from loadlens.store.errors import StoreError
from loadlens.store.location import DEFAULT_RUNS_DIR, resolve_url

CONNECT_TIMEOUT_S = 5  # an unreachable PostgreSQL must not hold a finished run for long


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One stored run, as `loadlens history` lists it (totals over the whole run)."""

    run_id: str
    scenario: str
    started_at: float
    ended_at: float | None
    complete: bool
    interrupted: bool
    verdict: str | None
    run_dir: str
    requests: int
    rps: float
    error_rate: float
    p95: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One run's value of one metric, in a scenario's history."""

    run_id: str
    started_at: float
    value: float


class Store:
    """A run history in the database at a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
            self.url = parsed.render_as_string(hide_password=True)
            connect_args: dict[str, Any] = {}
            if parsed.get_backend_name() == "postgresql":
                connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
            if parsed.get_backend_name() == "sqlite" and parsed.database:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine(parsed, connect_args=connect_args)
        except Exception as exc:  # bad URL, missing driver, unwritable directory
            raise StoreError(
                f"cannot open the run history at {_safe(url)}: {_describe(exc)}",
                hint="check --store or $LOADLENS_STORE (e.g. postgresql+psycopg://user@host/db)",
            ) from None
        if self._engine.dialect.name == "sqlite":
            # SQLite enforces ON DELETE CASCADE only when asked, per connection.
            event.listen(self._engine, "connect", _sqlite_foreign_keys)
        with self._guard("create the history tables in"):
            schema.metadata.create_all(self._engine)

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, result: RunResult, run_dir: Path) -> None:
        """Store a run (replacing what was stored under its id), in one transaction."""
        from sqlalchemy import delete, insert

        run_id = result.run.run_id
        with self._guard(f"record run {run_id} in"), self._engine.begin() as conn:
            conn.execute(delete(schema.metrics).where(schema.metrics.c.run_id == run_id))
            conn.execute(delete(schema.runs).where(schema.runs.c.run_id == run_id))
            conn.execute(insert(schema.runs), [_run_row(result, run_dir)])
            conn.execute(insert(schema.metrics), _metric_rows(result))

    def runs(self, scenario: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Stored runs, newest first, with their totals."""
        from sqlalchemy import select

        r, m = schema.runs, schema.metrics
        query = (
            select(r, m.c["count"], m.c.rps, m.c.error_rate, m.c.p95)
            .join(
                m,
                (m.c.run_id == r.c.run_id)
                & (m.c.stage == schema.ALL_STAGES)
                & (m.c.operation == schema.ALL_OPERATIONS),
            )
            .order_by(r.c.started_at.desc(), r.c.run_id.desc())
            .limit(limit)
        )
        if scenario is not None:
            query = query.where(r.c.scenario == scenario)
        with self._guard("read runs from"), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            RunSummary(
                run_id=row["run_id"],
                scenario=row["scenario"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                complete=bool(row["complete"]),
                interrupted=bool(row["interrupted"]),
                verdict=row["verdict"],
                run_dir=row["run_dir"],
                requests=int(row["count"]),
                rps=float(row["rps"]),
                error_rate=float(row["error_rate"]),
                p95=float(row["p95"]),
            )
            for row in rows
        ]

    def run_dir(self, run_id: str) -> Path | None:
        """The directory of a stored run; None when the id is not stored."""
        from sqlalchemy import select

        query = select(schema.runs.c.run_dir).where(schema.runs.c.run_id == run_id)
        with self._guard("read runs from"), self._engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else Path(value)

    def scenarios(self) -> list[str]:
        """Every scenario with stored runs, sorted."""
        from sqlalchemy import select

        query = select(schema.runs.c.scenario).distinct().order_by(schema.runs.c.scenario)
        with self._guard("read scenarios from"), self._engine.connect() as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def operations(self, scenario: str) -> list[str]:
        """Every operation of a scenario's stored runs (ALL_OPERATIONS included), sorted."""
        from sqlalchemy import select

        r, m = schema.runs, schema.metrics
        query = (
            select(m.c.operation)
            .join(r, r.c.run_id == m.c.run_id)
            .where(r.c.scenario == scenario, m.c.stage == schema.ALL_STAGES)
            .distinct()
            .order_by(m.c.operation)
        )
        with self._guard("read operations from"), self._engine.connect() as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def series(
        self, scenario: str, operation: str, metric: str, *, stage: str = schema.ALL_STAGES
    ) -> list[SeriesPoint]:
        """One metric of one operation over a scenario's stored runs, oldest first."""
        from sqlalchemy import select

        if metric not in schema.METRIC_COLUMNS:
            raise ValueError(
                f"unknown metric {metric!r}; one of {', '.join(schema.METRIC_COLUMNS)}"
            )
        r, m = schema.runs, schema.metrics
        query = (
            select(r.c.run_id, r.c.started_at, m.c[metric])
            .join(m, m.c.run_id == r.c.run_id)
            .where(r.c.scenario == scenario, m.c.operation == operation, m.c.stage == stage)
            .order_by(r.c.started_at, r.c.run_id)
        )
        with self._guard("read the history from"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [SeriesPoint(str(row[0]), float(row[1]), float(row[2])) for row in rows]

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot {doing} the run history at {self.url}: {_describe(exc)}",
                hint="the run directories keep every result; "
                "bring them in later with `loadlens history import DIR`",
            ) from None


def open_store(url: str | None, runs_dir: Path = DEFAULT_RUNS_DIR) -> Store:
    """The store at `url`, else $LOADLENS_STORE, else `RUNS_DIR/history.db`."""
    return Store(resolve_url(url, runs_dir))


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What became of recording a run: stored, or why not (the run itself is safe)."""

    url: str
    error: StoreError | None = None

    @property
    def stored(self) -> bool:
        """Whether the run is in the store."""
        return self.error is None


def preload(url: str) -> None:
    """Import the database dialect and driver of the store at `url` now (SQLite's: ~50 ms),
    so that recording a run at its end does not; a problem is left for `Store` to report."""
    from sqlalchemy.engine import make_url

    with contextlib.suppress(Exception):
        make_url(url).get_dialect().import_dbapi()


def record_run(
    result: RunResult, run_dir: Path, *, url: str | None = None, runs_dir: Path | None = None
) -> RecordOutcome:
    """Record a finished run; never raises for the store's sake (see RecordOutcome.error)."""
    target = resolve_url(url, runs_dir if runs_dir is not None else run_dir.parent)
    try:
        with Store(target) as store:
            store.record(result, run_dir)
    except StoreError as error:
        return RecordOutcome(_safe(target), error)
    return RecordOutcome(_safe(target))


def _run_row(result: RunResult, run_dir: Path) -> dict[str, Any]:
    info = result.run
    verdict = getattr(result, "verdict", None)
    kind = getattr(verdict, "kind", None)
    return {
        "run_id": info.run_id,
        "scenario": info.scenario,
        "source": info.source,
        "source_sha256": info.source_sha256,
        "target": info.target,
        "hostname": info.hostname,
        "loadlens_version": info.loadlens_version,
        "started_at": info.started_at,
        "ended_at": info.ended_at,
        "complete": result.complete,
        "interrupted": result.interrupted,
        "verdict": None if kind is None else str(getattr(kind, "value", kind)),
        "run_dir": str(run_dir.absolute()),
        "recorded_at": time.time(),
    }


def _metric_rows(result: RunResult) -> list[dict[str, Any]]:
    rows = []
    seconds = run_duration_s(result)
    for name, stats in result.operations.items():
        rows.append(_metric_row(result, schema.ALL_STAGES, name, stats, seconds))
    rows.append(
        _metric_row(result, schema.ALL_STAGES, schema.ALL_OPERATIONS, result.total, seconds)
    )
    for stage in result.stages:
        if not stage.ran:
            continue
        span = (
            stage.ended_at - stage.started_at
            if stage.started_at is not None and stage.ended_at is not None
            else 0.0
        )
        for name, stats in stage.operations.items():
            rows.append(_metric_row(result, stage.info.name, name, stats, span))
        rows.append(_metric_row(result, stage.info.name, schema.ALL_OPERATIONS, stage.total, span))
    return rows


def _metric_row(
    result: RunResult, stage: str, operation: str, stats: OpStats, seconds: float
) -> dict[str, Any]:
    latency = stats.latency
    return {
        "run_id": result.run.run_id,
        "stage": stage,
        "operation": operation,
        "duration_s": seconds,
        "count": stats.count,
        "ok": stats.ok,
        "errors": stats.errors,
        "error_rate": stats.error_rate,
        "rps": rate(stats.count, seconds),
        "p50": latency.p50,
        "p90": latency.p90,
        "p95": latency.p95,
        "p99": latency.p99,
        "max": latency.max,
        "bytes_sent": stats.bytes_sent,
        "bytes_received": stats.bytes_received,
    }


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _safe(url: str) -> str:
    """A URL fit to print: the password hidden (or the text unchanged if it does not parse)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _describe(exc: BaseException) -> str:
    """The first line of a driver's message, without SQLAlchemy's background links."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
