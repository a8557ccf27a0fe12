"""Where workers run: the coordinator's one seam, and its local backend (worker processes).

How it works. The coordinator talks to its workers only through their connections (frames,
orders, STOP / EXIT: `worker`'s messages); a `WorkerBackend` starts the workers and hands back
one connection per worker, says how a worker whose connection closed has ended, and ends them
all after the run. `LocalWorkers` spawns one process per worker, connected by a pipe;
`loadlens.engine.ray_workers` starts Ray actors that connect back over TCP. Nothing above the
coordinator knows which one ran.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Protocol

from loadlens.engine.launch import start_worker, worker_context
from loadlens.engine.worker import worker_main
from loadlens.engine.worker_tally import exit_cause
from loadlens.http import ClientOptions
from loadlens.model.scenario import Scenario

_POLL_S = 0.1
_REAP_S = 1.0  # a worker whose pipe closed is exiting: how long to wait to learn its exit code


class WorkerBackend(Protocol):
    """Starts workers, learns how one ended, ends them all."""

    # A worker that shares the coordinator's monotonic clock needs no clock measurement, and
    # gets its scenario as it starts; a remote one gets it after its hello (`Assignment`).
    remote: bool
    # Whether the run goes on when a worker is lost (a cluster's nodes come and go), or stops.
    tolerates_loss: bool

    def start(self, scenario: Scenario, client: ClientOptions, workers: int) -> list[Connection]:
        """Start `workers` workers; one connection per worker, by worker number."""
        ...

    def ended(self, worker: int) -> tuple[int | None, str]:
        """The process id of a worker whose connection closed, and how it ended."""
        ...

    def stop(self, wait_s: float, at_once: Callable[[], bool]) -> None:
        """After EXIT was sent: wait up to `wait_s` (less once `at_once()`), then kill."""
        ...

    def describe(self) -> str | None:
        """The cluster, for the result (None: local processes)."""
        ...


class LocalWorkers:
    """One process per worker on this machine (forked where safe, else spawned: `launch`),
    connected by a pipe."""

    remote = False
    tolerates_loss = False

    def __init__(self) -> None:
        self._processes: list[multiprocessing.process.BaseProcess] = []

    def start(self, scenario: Scenario, client: ClientOptions, workers: int) -> list[Connection]:
        """Start the processes: forked, ready in ms, or spawned, booting while the caller goes
        on (`launch`)."""
        context = worker_context()
        conns: list[Connection] = []
        for worker in range(workers):
            parent, child = context.Pipe(duplex=True)
            process = start_worker(
                context,
                worker_main,
                (child, worker, workers, scenario, client, os.getpid()),
                f"loadlens-worker-{worker}",
                [*conns, parent],  # a forked worker closes its copies of the coordinator's ends
            )
            child.close()
            conns.append(parent)
            self._processes.append(process)
        return conns

    def ended(self, worker: int) -> tuple[int | None, str]:
        """Its exit code says how (its pipe closed as it ended)."""
        process = self._processes[worker]
        process.join(_REAP_S)
        return process.pid, exit_cause(process.exitcode)

    def stop(self, wait_s: float, at_once: Callable[[], bool]) -> None:
        """Join each process; kill those still there at the deadline."""
        deadline = time.monotonic() + wait_s
        for process in self._processes:
            while process.is_alive() and not at_once() and time.monotonic() < deadline:
                process.join(_POLL_S)
            if process.is_alive():
                process.kill()
                process.join()
        self._processes.clear()

    def describe(self) -> str | None:
        """Local processes: no cluster."""
        return None
