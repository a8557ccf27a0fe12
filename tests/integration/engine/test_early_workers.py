"""Workers spawned early (`Coordinator.start_workers`) end with `close` when `run` never comes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from loadlens.cli.quick import build_quick_scenario
from loadlens.engine.compiled import compile_scenario
from loadlens.engine.coordinator import Coordinator, RunOptions


def test_workers_started_early_are_ended_by_close(tmp_path: Path) -> None:
    # Nothing is sent: the port is never used, the workers only boot and are told to exit.
    scenario = build_quick_scenario("http://127.0.0.1:9/", 1, None, "1s", "GET", (), None)
    coordinator = Coordinator(compile_scenario(scenario), RunOptions(out=tmp_path, workers=2))
    before = set(multiprocessing.active_children())
    coordinator.start_workers()
    coordinator.start_workers()  # a second call spawns no more
    started = set(multiprocessing.active_children()) - before
    assert len(started) == 2
    coordinator.close()
    assert not started & set(multiprocessing.active_children())
    assert all(process.exitcode is not None for process in started)
