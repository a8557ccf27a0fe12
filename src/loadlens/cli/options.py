"""Options `run` takes, checked before anything is loaded or sent, by `validate` as by `run`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from loadlens.errors import SpecError, UsageError

if TYPE_CHECKING:
    from loadlens.model.scenario import Scenario


def check_out_dir(out: Path) -> None:
    """Refuse an `--out` directory that cannot be created or written to.

    Writing is tried, not guessed from permission bits (root passes every `os.access` check,
    and `/proc` or a read-only mount refuse writes anyway): a directory is made and removed in
    the deepest folder of `out` that exists, so nothing is left behind.
    """
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out}: `{existing}` is not a directory")
    try:
        probe = tempfile.mkdtemp(prefix=".loadlens-probe-", dir=existing)
        os.rmdir(probe)
    except OSError as error:
        raise UsageError(
            f"--out {out}: cannot create a run directory in `{existing}` "
            f"({error.strerror or error})",
            hint="give --out a directory you can write to",
        ) from None


def check_offline(
    scenario: Scenario, workers: int | None, variables: Mapping[str, str] | None = None
) -> None:
    """Refuse, without the network, a scenario this machine cannot run as written (users,
    rates) or whose databases cannot be reached (unparseable URL, driver not installed)."""
    from loadlens.engine.coordinator import default_workers
    from loadlens.engine.preflight import offline_problems

    problems = offline_problems(scenario, workers or default_workers(), variables)
    if problems:
        raise SpecError(problems)
