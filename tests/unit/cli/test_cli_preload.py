"""The wrap-up's imports (`cli.preload`) start with the first stage, once, at the lowest CPU
priority, and `join` waits."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from loadlens.cli.preload import WrapUpPreloader, _yield_to_the_workers
from loadlens.metrics.result import StageInfo


def _info(index: int) -> StageInfo:
    return StageInfo(f"s{index}", index, {"model": "closed", "users": 1}, 1.0, 0.0)


def test_nothing_runs_before_the_first_stage_and_join_returns_at_once(tmp_path: Path) -> None:
    before = threading.active_count()
    preloader = WrapUpPreloader(None, tmp_path)
    preloader.join()  # never started: the judge of a run that failed before any stage
    assert threading.active_count() == before


def test_the_thread_starts_once_at_the_first_stage_and_is_joined(tmp_path: Path) -> None:
    preloader = WrapUpPreloader(f"sqlite:///{tmp_path / 'h.db'}", tmp_path)
    preloader.stage_started(_info(0))
    preloader.stage_started(_info(1))  # a second stage starts no second thread
    preloader.join()
    assert not [t for t in threading.enumerate() if t.name == "loadlens-preload"]
    assert not (tmp_path / "h.db").exists()  # imports only: the store is opened at the end


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice: Linux")
def test_the_preloading_thread_alone_yields_the_cpu() -> None:
    seen: list[int] = []
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def lowered() -> None:
        _yield_to_the_workers()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert seen == [19]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main  # only the thread
