"""Where the run history lives: `--store URL`, else $LOADLENS_STORE, else a SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LOADLENS_STORE"
DEFAULT_RUNS_DIR = Path("loadlens-runs")
DATABASE_NAME = "history.db"  # beside the run directories it indexes


def resolve_url(url: str | None, runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    """The SQLAlchemy URL of the store to use."""
    if url:
        return url
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return from_env
    return f"sqlite:///{(runs_dir / DATABASE_NAME).absolute()}"
