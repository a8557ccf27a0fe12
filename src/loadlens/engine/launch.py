"""How the local worker processes start: forked from the coordinator where that is safe, else
spawned.

How it works. A spawned worker is a fresh interpreter that imports the hot path (the engine,
httptools, uvloop, numpy): ~0.3 s of CPU per worker, on the run's critical path, and several
of them at once on a few cores. A forked worker is a copy of the coordinator, which has imported
all of that already (`preload_worker_imports`): it is ready in milliseconds and shares the
imported code copy-on-write. `start_method` picks fork on Linux when only the main thread runs,
unless `LOADLENS_WORKER_START=spawn` asks for spawn (to debug, or to compare); elsewhere, and
whenever another thread runs, it spawns: macOS's system libraries are not fork-safe, Windows has
no fork, and a thread that holds a lock (logging's, a stream's, the import lock) at the moment of
a fork leaves that lock held forever in the child. The CLI starts the workers before anything
that starts a thread (the service observer, the dashboard, the Prometheus and OTLP exporters).

What a forked worker inherits, and why that is harmless:
- buffered files: multiprocessing flushes stdout and stderr before it forks; the worker never
  writes to the coordinator's other files (frames.jsonl, the result), and it ends with
  `os._exit`, which flushes nothing and runs no `atexit` handler;
- the coordinator's ends of the channels (its own and the workers' started before it):
  `_forked_worker` closes them first, or the worker's channel would never reach end-of-file
  when the coordinator goes (`lifetime`): the worker itself would hold the other end open;
- the stop signals' handlers: `bind_to_coordinator` ignores those signals before anything else;
- random generators: `random` reseeds itself in a forked child, the worker's `random.Random()`
  seeds from the OS, and nothing in a worker uses numpy's global generator;
- the event loop: none runs in the coordinator when it forks; `uvloop.run` makes a new one;
- numpy's OpenBLAS thread pool (a thread Python does not start): OpenBLAS shuts it down around
  a fork with its own `pthread_atfork` handler. Python 3.12+ warns of any multi-threaded fork;
  that warning is silenced here for this reason only, after checking that no other Python
  thread runs.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext

    StartContext = ForkContext | SpawnContext

START_ENV = "LOADLENS_WORKER_START"  # `spawn` forces spawned workers; `fork` or unset: automatic


def start_method() -> str:
    """`fork` where forking the coordinator is safe (Linux, one thread, not asked otherwise),
    else `spawn`."""
    if os.environ.get(START_ENV, "").strip().lower() == "spawn":
        return "spawn"
    if not sys.platform.startswith("linux"):
        return "spawn"
    return "fork" if threading.active_count() == 1 else "spawn"


def preload_worker_imports() -> None:
    """Import what a worker imports only once it runs (uvloop), so that a forked worker
    inherits it instead of importing it."""
    import uvloop  # noqa: F401


def start_worker(
    context: StartContext,
    target: Callable[..., None],
    args: tuple[Any, ...],
    name: str,
    coordinator_ends: Sequence[Connection],
) -> multiprocessing.process.BaseProcess:
    """Start one worker process running `target(*args)`; a forked one first closes its copies
    of `coordinator_ends`, the coordinator's ends of its own channel and of those of the
    workers started before it."""
    if context.get_start_method() == "fork":
        target, args = _forked_worker, (list(coordinator_ends), target, args)
    process = context.Process(target=target, args=args, name=name, daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+: "This process is multi-threaded, use of fork() may lead to deadlocks".
        # The only other thread is OpenBLAS's pool, fork-safe (see the module's docstring).
        warnings.filterwarnings("ignore", message=".*multi-threaded.*", category=DeprecationWarning)
        process.start()
    return process


def worker_context() -> StartContext:
    """The multiprocessing context the workers start with, preloaded for a fork."""
    if start_method() == "fork":
        preload_worker_imports()
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _forked_worker(
    coordinator_ends: list[Connection], target: Callable[..., None], args: tuple[Any, ...]
) -> None:
    for conn in coordinator_ends:  # this process's copies; the coordinator's stay open
        conn.close()
    target(*args)
