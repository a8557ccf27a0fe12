"""The run history: every run's summary in SQLite (by default) or PostgreSQL (by URL).

`loadlens run` records each finished run with `record_run`; a store that cannot be reached
never costs a run, because the run directory stays the source of truth and
`loadlens history import` brings it in later.
"""

from __future__ import annotations

from loadlens.store.errors import StoreError
from loadlens.store.history import (
    RecordOutcome,
    RunSummary,
    SeriesPoint,
    Store,
    open_store,
    record_run,
)
from loadlens.store.location import ENV_VAR, resolve_url

__all__ = [
    "ENV_VAR",
    "RecordOutcome",
    "RunSummary",
    "SeriesPoint",
    "Store",
    "StoreError",
    "open_store",
    "record_run",
    "resolve_url",
]
