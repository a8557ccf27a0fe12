"""The first words between a worker and its coordinator: which version, where, and whose clock.

How it works. A worker's first message is a hello: a plain dict (so that a worker of any
loadlens version can write it and any coordinator read it) with loadlens's version, the frame
protocol's, and where the worker runs (host, cluster node, pid). The coordinator refuses a
worker of another version (`check_hello`) before anything else is said. A worker on another
machine then has its clock measured (`measure_clock`): the coordinator sends `Ping`s, each
answered at once with the worker's clocks, and keeps the exchange with the shortest round trip
(NTP's rule: the offset it gives is wrong by at most half that round trip). The worker is told
its monotonic offset (`ClockOffset`) and converts each stage's start instant, which the
coordinator sends in its own clock, into the worker's clock. Local workers share the
coordinator's monotonic clock: they are not pinged.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from loadlens import __version__
from loadlens.errors import ClusterError, WorkerVersionError
from loadlens.metrics.placement import WorkerPlace

# The frame protocol's version: raised whenever a message between coordinator and worker
# changes meaning. 1: the hello (before it, workers said "ready").
PROTOCOL_VERSION = 1
HELLO = "hello"
_PINGS = 8  # round trips per worker: the shortest of 8 is close to the link's floor
_PONG_TIMEOUT_S = 5.0  # an answer slower than this is a worker that is not there


@dataclass(frozen=True, slots=True)
class Ping:
    """The coordinator's monotonic clock as it asks; answered with a `Pong`."""

    sent_ns: int


@dataclass(frozen=True, slots=True)
class Pong:
    """The worker's clocks the moment it read a `Ping`."""

    sent_ns: int  # the ping's, echoed
    monotonic_ns: int
    wall_ns: int


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """Worker's monotonic clock minus the coordinator's: add it to a coordinator instant."""

    offset_ns: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """What a remote worker runs, sent once its hello is accepted (a local worker gets it as
    its process's arguments): pickled objects of another version could not even be read."""

    scenario: object  # a `Scenario`
    client: object  # a `ClientOptions`
    files: dict[str, bytes] = field(default_factory=dict)  # uploaded files, by path (shipped_files)


def hello(worker: int, node: str = "") -> dict[str, Any]:
    """A worker's first message."""
    return {
        "kind": HELLO,
        "loadlens": __version__,
        "protocol": PROTOCOL_VERSION,
        "worker": worker,
        "host": socket.gethostname(),
        "node": node,
        "pid": os.getpid(),
    }


def pong(ping: Ping) -> Pong:
    """The answer to a ping, taken at once."""
    return Pong(ping.sent_ns, time.monotonic_ns(), time.time_ns())


def check_hello(message: object, worker: int) -> WorkerPlace:
    """Where worker `worker` runs, from its first message; a `WorkerVersionError` naming both
    versions when it is not this loadlens's (or says something else first)."""
    if not isinstance(message, dict) or message.get("kind") != HELLO:
        said = "ready" if message == "ready" else type(message).__name__
        raise WorkerVersionError(
            f"worker {worker} speaks another frame protocol (its first message was {said!r}, "
            f"not a hello): it runs a loadlens older than this one ({__version__}, protocol "
            f"{PROTOCOL_VERSION})",
            hint="install the same loadlens version on every node",
        )
    theirs, protocol = str(message.get("loadlens")), message.get("protocol")
    if theirs != __version__ or protocol != PROTOCOL_VERSION:
        raise WorkerVersionError(
            f"worker {worker} on {message.get('host')} runs loadlens {theirs} (protocol "
            f"{protocol}), the coordinator loadlens {__version__} (protocol {PROTOCOL_VERSION})",
            hint="install the same loadlens version on every node",
        )
    return WorkerPlace(
        worker=worker,
        host=str(message.get("host", "")),
        node=str(message.get("node", "")),
        pid=int(message.get("pid", 0)),
    )


def measure_clock(conn: Connection, place: WorkerPlace) -> tuple[WorkerPlace, int]:
    """Ping a worker (between stages: it answers at once); its place with the wall-clock
    offset and its bound, and the monotonic offset to send it."""
    best: tuple[int, int, int] | None = None  # round trip, monotonic offset, wall offset
    for _ in range(_PINGS):
        sent, sent_wall = time.monotonic_ns(), time.time_ns()
        conn.send(Ping(sent))
        if not conn.poll(_PONG_TIMEOUT_S):
            raise ClusterError(f"worker {place.worker} on {place.host} did not answer a ping")
        answer = conn.recv()
        back, back_wall = time.monotonic_ns(), time.time_ns()
        if not isinstance(answer, Pong) or answer.sent_ns != sent:
            raise ClusterError(f"worker {place.worker} answered a ping with {answer!r}")
        trip = back - sent
        mono = answer.monotonic_ns - (sent + back) // 2
        wall = answer.wall_ns - (sent_wall + back_wall) // 2
        if best is None or trip < best[0]:
            best = (trip, mono, wall)
    assert best is not None
    trip, mono, wall = best
    return replace(place, clock_offset_ms=wall / 1e6, clock_uncertainty_ms=trip / 2e6), mono
