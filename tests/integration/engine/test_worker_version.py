"""A worker of another loadlens version is refused by the real coordinator, both versions named."""

from __future__ import annotations

import threading
from collections.abc import Callable
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from loadlens import __version__
from loadlens.cli.quick import build_quick_scenario
from loadlens.engine.compiled import compile_scenario
from loadlens.engine.coordinator import Coordinator, RunOptions
from loadlens.engine.handshake import PROTOCOL_VERSION, hello
from loadlens.errors import EXIT_INVALID, WorkerVersionError
from loadlens.http import ClientOptions
from loadlens.model.scenario import Scenario


class _FakeWorkers:
    """A backend whose one worker is a thread that says `first` and then waits for EXIT."""

    remote = True
    tolerates_loss = True

    def __init__(self, first: object) -> None:
        self.first = first
        self.heard: list[object] = []
        self._thread: threading.Thread | None = None

    def start(self, scenario: Scenario, client: ClientOptions, workers: int) -> list[Connection]:
        ours, theirs = Pipe(duplex=True)

        def speak() -> None:
            theirs.send(self.first)
            while theirs.poll(10):
                try:
                    message = theirs.recv()
                except EOFError:
                    return
                self.heard.append(message)
                if message == "exit":
                    return

        self._thread = threading.Thread(target=speak, daemon=True)
        self._thread.start()
        return [ours]

    def ended(self, worker: int) -> tuple[int | None, str]:
        return None, "gone"

    def stop(self, wait_s: float, at_once: Callable[[], bool]) -> None:
        if self._thread is not None:
            self._thread.join(wait_s)

    def describe(self) -> str | None:
        return "fake://"


def _run(
    tmp_path: Path, first: object
) -> tuple[pytest.ExceptionInfo[WorkerVersionError], _FakeWorkers]:
    # Nothing is sent: the port is never used, the run stops at the handshake.
    scenario = build_quick_scenario("http://127.0.0.1:9/", 1, None, "1s", "GET", (), None)
    backend = _FakeWorkers(first)
    coordinator = Coordinator(
        compile_scenario(scenario), RunOptions(out=tmp_path, workers=1), backend=backend
    )
    with pytest.raises(WorkerVersionError) as raised:
        coordinator.run()
    return raised, backend


def test_a_worker_of_another_version_is_refused_naming_both(tmp_path: Path) -> None:
    other = {**hello(0), "loadlens": "0.0.9"}
    raised, backend = _run(tmp_path, other)
    assert raised.value.exit_code == EXIT_INVALID
    assert raised.value.message == (
        f"worker 0 on {other['host']} runs loadlens 0.0.9 (protocol {PROTOCOL_VERSION}), "
        f"the coordinator loadlens {__version__} (protocol {PROTOCOL_VERSION})"
    )
    assert raised.value.hint == "install the same loadlens version on every node"
    assert backend.heard == ["exit"]  # told to exit; never given the scenario


def test_a_worker_of_another_protocol_is_refused(tmp_path: Path) -> None:
    raised, _ = _run(tmp_path, {**hello(0), "protocol": PROTOCOL_VERSION + 1})
    assert f"(protocol {PROTOCOL_VERSION + 1}), the coordinator" in raised.value.message


def test_a_worker_from_before_the_hello_is_refused(tmp_path: Path) -> None:
    raised, _ = _run(tmp_path, "ready")
    assert raised.value.message.startswith(
        "worker 0 speaks another frame protocol (its first message was 'ready', not a hello)"
    )
