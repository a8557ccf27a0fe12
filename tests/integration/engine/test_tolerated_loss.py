"""A backend that tolerates losses (a cluster's): the run goes on without a lost worker, and
ends, said plainly, when none is left. One fake remote worker, on a thread, speaks the protocol."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

from loadlens.cli.quick import build_quick_scenario
from loadlens.engine.compiled import compile_scenario
from loadlens.engine.coordinator import Coordinator, RunOptions
from loadlens.engine.handshake import Assignment, Ping, hello, pong
from loadlens.engine.worker import READY, StageOrder
from loadlens.http import ClientOptions
from loadlens.metrics.result import read_result
from loadlens.model.scenario import Scenario


class _DiesAtTheFirstOrder:
    """A remote worker that says hello, takes its scenario, answers pings, and dies (closes
    its connection) as its first stage order arrives."""

    remote = True
    tolerates_loss = True

    def __init__(self) -> None:
        self.heard: list[str] = []
        self._thread: threading.Thread | None = None

    def start(self, scenario: Scenario, client: ClientOptions, workers: int) -> list[Connection]:
        ours, theirs = Pipe(duplex=True)

        def speak() -> None:
            theirs.send(hello(0, "node-x"))
            while theirs.poll(10):
                message = theirs.recv()
                self.heard.append(type(message).__name__)
                if isinstance(message, Assignment):
                    theirs.send(READY)
                elif isinstance(message, Ping):
                    theirs.send(pong(message))
                elif isinstance(message, StageOrder | str):
                    theirs.close()  # killed: its connection ends
                    return

        self._thread = threading.Thread(target=speak, daemon=True)
        self._thread.start()
        return [ours]

    def ended(self, worker: int) -> tuple[int | None, str]:
        return None, "actor died (test)"

    def stop(self, wait_s: float, at_once: Callable[[], bool]) -> None:
        if self._thread is not None:
            self._thread.join(wait_s)

    def describe(self) -> str | None:
        return "fake://"


def test_the_run_goes_on_without_a_lost_worker_and_ends_when_none_is_left(
    tmp_path: Path,
) -> None:
    # Nothing is sent: the one worker dies before it would send anything.
    scenario = build_quick_scenario("http://127.0.0.1:9/", 1, None, "1s", "GET", (), None)
    first = scenario.plan[0]
    two = replace(scenario, plan=(first, replace(first, name="second")))
    backend = _DiesAtTheFirstOrder()
    coordinator = Coordinator(
        compile_scenario(two), RunOptions(out=tmp_path, workers=1), backend=backend
    )
    outcome = coordinator.run()
    assert backend.heard[:2] == ["Assignment", "Ping"]
    assert "ClockOffset" in backend.heard and backend.heard[-1] == "StageOrder"
    result = read_result(outcome.directory / "result.json")
    (lost,) = result.lost_workers
    assert (lost.worker, lost.went_on, lost.pid) == (0, True, os.getpid())
    assert lost.cause == "actor died (test) (on " + result.run.places[0].host + ", node node-x)"
    assert outcome.notes[-1].startswith("worker 0 was lost ")
    assert outcome.failures == ["every worker was lost: no stage can run"]
    assert not result.complete
    assert result.run.cluster == "fake://" and result.run.places[0].node == "node-x"
    assert result.stages[-1].info.name == "second" and not result.stages[-1].ran
