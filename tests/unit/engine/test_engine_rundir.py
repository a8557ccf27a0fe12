"""Run directories: one per run, never reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.engine.rundir import RunDirectory, new_run_id


def test_run_ids_are_unique_and_name_the_scenario() -> None:
    ids = {new_run_id("Users CRUD!") for _ in range(50)}
    assert len(ids) == 50
    assert all("-users-crud-" in run_id for run_id in ids)


def test_a_run_directory_is_never_reused(tmp_path: Path) -> None:
    first = RunDirectory(tmp_path, "same-id")
    first.close()
    with pytest.raises(FileExistsError):
        RunDirectory(tmp_path, "same-id")
