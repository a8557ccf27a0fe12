"""Imports what a run's end needs while its first stage runs, in a thread.

How it works. The wrap-up (diagnosis, summary, reports, history store) imports ~0.5 s of CPU
worth of modules (scipy.special, SQLAlchemy and its SQLite dialect, the report writers). A run's
main thread mostly waits for the workers' frames, so `WrapUpPreloader`, one of the coordinator's
listeners, starts a thread that imports them when the first stage (or setup) starts: after the
workers started (a forked worker must not inherit a running thread: `engine.launch`) and after
the stage's orders went out, at the lowest CPU priority, so that it takes only what the workers
leave idle. Nothing of it runs yet. The judge calls `join` before it concludes
(`attach_judge`'s `ready`), so the main thread's wrap-up never imports those modules while this
thread does.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

_NICE = 19  # the lowest priority: only idle CPU time, never a worker's

if TYPE_CHECKING:
    from loadlens.metrics.accumulate import RunAccumulator
    from loadlens.metrics.result import StageInfo


class WrapUpPreloader:
    """A run listener that starts the preloading thread at the first stage."""

    def __init__(self, store: str | None, out: Path) -> None:
        self._thread = threading.Thread(
            target=_preload_wrap_up, args=(store, out), name="loadlens-preload", daemon=True
        )
        self._started = False

    def stage_started(self, info: StageInfo) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        pass

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        pass

    def join(self) -> None:
        """Wait until the imports are done (at once if they never started)."""
        if self._started:
            self._thread.join()


def _preload_wrap_up(store: str | None, out: Path) -> None:
    _yield_to_the_workers()
    with contextlib.suppress(Exception):  # an import that fails fails again where it is needed
        import loadlens.analysis.findings
        import loadlens.report.console
        import loadlens.report.write  # noqa: F401
        from loadlens.analysis.stats import preload
        from loadlens.store import resolve_url
        from loadlens.store.history import preload as preload_store

        preload()
        preload_store(resolve_url(store, out))  # where the run will be recorded


def _yield_to_the_workers() -> None:
    """Lowest CPU priority for this thread (Linux: a thread's own nice value): it uses the
    cores the workers leave idle, and waits where they need them all, so that a run's first
    second measures the service, not this thread's imports."""
    if sys.platform.startswith("linux"):  # elsewhere PRIO_PROCESS would name the whole process
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
