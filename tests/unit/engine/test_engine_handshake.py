"""The hello and the clock measurement between a coordinator and a worker on another clock."""

from __future__ import annotations

import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import pytest

from loadlens import __version__
from loadlens.engine.handshake import (
    PROTOCOL_VERSION,
    Ping,
    Pong,
    check_hello,
    hello,
    measure_clock,
)
from loadlens.engine.ray_workers import _spread, require_ray
from loadlens.errors import ClusterError, WorkerVersionError
from loadlens.metrics.placement import WorkerPlace

_MONO_AHEAD_NS = 5_000_000_000  # the fake worker's monotonic clock: 5 s ahead
_WALL_BEHIND_NS = -2_000_000_000  # ... and its wall clock 2 s behind


def _answer(conn: Connection, pings: int) -> None:
    for _ in range(pings):
        ping = conn.recv()
        assert isinstance(ping, Ping)
        conn.send(
            Pong(
                ping.sent_ns, time.monotonic_ns() + _MONO_AHEAD_NS, time.time_ns() + _WALL_BEHIND_NS
            )
        )


def test_a_hello_of_this_version_gives_the_worker_s_place() -> None:
    place = check_hello({**hello(3, "node-a"), "pid": 77, "host": "box"}, 3)
    assert place == WorkerPlace(3, "box", "node-a", 77)
    assert hello(0)["loadlens"] == __version__ and hello(0)["protocol"] == PROTOCOL_VERSION


def test_a_hello_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(WorkerVersionError, match="its first message was 'int'"):
        check_hello(42, 0)


def test_the_clock_offset_is_measured_within_half_the_shortest_round_trip() -> None:
    ours, theirs = Pipe(duplex=True)
    worker = threading.Thread(target=_answer, args=(theirs, 8), daemon=True)
    worker.start()
    place, offset_ns = measure_clock(ours, WorkerPlace(0, "box", "n", 1))
    worker.join(5)
    bound_ns = place.clock_uncertainty_ms * 1e6
    assert 0 < bound_ns < 1e9
    assert abs(offset_ns - _MONO_AHEAD_NS) <= bound_ns
    assert abs(place.clock_offset_ms * 1e6 - _WALL_BEHIND_NS) <= bound_ns + 1e6


def test_a_worker_that_does_not_answer_a_ping_is_a_cluster_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("loadlens.engine.handshake._PONG_TIMEOUT_S", 0.05)
    ours, _theirs = Pipe(duplex=True)
    with pytest.raises(ClusterError, match="worker 0 on box did not answer a ping"):
        measure_clock(ours, WorkerPlace(0, "box", "n", 1))


def test_workers_are_spread_over_the_nodes_in_turn() -> None:
    assert _spread({"a": 2, "b": 1}, None) == ["a", "b", "a"]
    assert _spread({"a": 2, "b": 1}, 2) == ["a", "b"]
    assert _spread({"a": 1, "b": 1}, 5) == ["a", "b", "a", "b", "a"]
    assert _spread({}, None) == []


def test_without_ray_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # `import ray` fails
    with pytest.raises(ClusterError) as raised:
        require_ray()
    assert raised.value.message == "--cluster needs Ray, which is not installed"
    assert raised.value.hint == "pip install 'loadlens[ray]'"
