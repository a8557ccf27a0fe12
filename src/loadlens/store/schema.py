"""The tables of the run history (SQLAlchemy Core; the same on SQLite and PostgreSQL).

runs     one row per run: what ran, when, how it ended, where its directory is
metrics  one row per run, stage and operation: counts, rates and latency percentiles;
         stage ALL_STAGES is the whole run, operation ALL_OPERATIONS every operation
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 1
ALL_STAGES = "*"
ALL_OPERATIONS = "*"

metadata = MetaData()

runs = Table(
    "loadlens_runs",
    metadata,
    Column("run_id", String(200), primary_key=True),
    Column("scenario", String(200), nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("loadlens_version", String(50), nullable=False),
    Column("started_at", Float, nullable=False, index=True),  # UNIX seconds
    Column("ended_at", Float),
    Column("complete", Boolean, nullable=False),
    Column("interrupted", Boolean, nullable=False),
    Column("verdict", String(20)),  # go / no_go / inconclusive; NULL when not judged
    Column("run_dir", Text, nullable=False),
    Column("recorded_at", Float, nullable=False),
)

# The summary metrics a history query can ask for, by column name.
METRIC_COLUMNS = (
    "count",
    "ok",
    "errors",
    "error_rate",
    "rps",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
    "bytes_sent",
    "bytes_received",
)

metrics = Table(
    "loadlens_metrics",
    metadata,
    Column(
        "run_id",
        String(200),
        ForeignKey("loadlens_runs.run_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("stage", String(200), primary_key=True),
    Column("operation", String(200), primary_key=True),
    Column("duration_s", Float, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("ok", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("error_rate", Float, nullable=False),
    Column("rps", Float, nullable=False),
    Column("p50", Float, nullable=False),  # milliseconds
    Column("p90", Float, nullable=False),
    Column("p95", Float, nullable=False),
    Column("p99", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("bytes_sent", BigInteger, nullable=False),
    Column("bytes_received", BigInteger, nullable=False),
)
