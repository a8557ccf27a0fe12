"""The signals that ask a run to stop: SIGINT (Ctrl-C), SIGTERM (`timeout`, `docker stop`, CI
cancellation) and SIGHUP (the terminal went away).

How it works. While a run goes, `StopSignals.catching()` replaces the handlers of these three
signals with one that only counts them and remembers the first; the coordinator polls the
count from its loop (a handler that did more would run in the middle of whatever the loop was
doing). The first signal stops the run gracefully, a second one at once; either way what was
measured is written. The CLI holds the handlers a little longer than the coordinator, until the
reports are written, so that a signal then cannot kill the process half-way through a file.
A signal the process inherited as ignored (`nohup` ignores SIGHUP) stays ignored.
Nested `catching()` blocks share the outer one's handlers; the old handlers come back when the
outermost block ends.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

# SIGHUP does not exist on Windows; there the two others are enough.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    sig
    for sig in (getattr(signal, name, None) for name in ("SIGINT", "SIGTERM", "SIGHUP"))
    if isinstance(sig, signal.Signals)
)


def ignore_stop_signals() -> None:
    """Ignore the stop signals from now on in this process (workers, whose coordinator decides
    how to stop; a CLI whose stopped run is written and which is only exiting)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class StopSignals:
    """Counts the stop signals received while `catching()`; remembers the first."""

    def __init__(self) -> None:
        self.count = 0
        self.first: signal.Signals | None = None
        self._depth = 0
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def first_name(self) -> str | None:
        """`SIGTERM`, `SIGINT` or `SIGHUP`: the signal that stopped the run, if one did."""
        return None if self.first is None else self.first.name

    @contextlib.contextmanager
    def catching(self) -> Iterator[StopSignals]:
        """Catch the stop signals for the duration of the block."""
        if self._depth == 0:
            self._previous = {
                sig: signal.signal(sig, self._on_signal)
                for sig in STOP_SIGNALS
                # one ignored on purpose stays so (`nohup` ignores SIGHUP, a shell's `&` SIGINT)
                if signal.getsignal(sig) is not signal.SIG_IGN
            }
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                for sig, handler in self._previous.items():
                    signal.signal(sig, handler)
                self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.first is None:
            self.first = signal.Signals(signum)
