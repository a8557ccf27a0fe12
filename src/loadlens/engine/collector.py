"""The cyclic garbage collector in a worker: off during a stage, run at each frame instead.

A worker allocates a few objects per request (a Future, a Response, the instants) and keeps
many alive at once: every in-flight iteration's task, coroutine frames and connection. With
CPython's default thresholds (a young collection every 700 net allocations) the collector kept
walking those live objects; measured with `bench/inproc.py --rate 50000 --gc on|off`, it cost
a quarter of the open model's user CPU (14.5 against 10.8 µs per request). Nearly all of a
worker's garbage is freed by reference counting; cycles are rare (exceptions and their
tracebacks). So the automatic collector is off while a stage runs, and the worker collects the
young generations itself once a second, right after handing its frame over (when the second's
kept instants have just been let go), and everything every minute: at most a minute of cyclic
garbage, and a collection's cost no longer grows with the request rate. What exists when a
stage starts lives for the run: it is moved out of the collector's sight (`gc.freeze`).
"""

from __future__ import annotations

import gc

_FULL_EVERY = 60  # seconds between full collections during a stage


def stage_begins() -> None:
    """Collect what is garbage now, freeze what survives, and stop automatic collections."""
    gc.collect()
    gc.freeze()
    gc.disable()


def second_ends(second: int) -> None:
    """The collection that replaces the automatic ones: young each second, full each minute."""
    gc.collect(2 if second % _FULL_EVERY == _FULL_EVERY - 1 else 1)


def stage_ends() -> None:
    """Automatic collections again, between stages."""
    gc.enable()
