"""A frame: one worker's measurements for one second of one stage.

Workers pickle frames to the coordinator; the coordinator appends each as one JSON line to
`frames.jsonl`, which is enough to rebuild the result after a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from loadlens.metrics.diagnostics import OpDiagnostics
from loadlens.metrics.histogram import decode_histogram

# An event-loop lag probe this late (ms) saw a stall: the loop was held up by more than the
# timer's own slack (about 0.1-1 ms), by other processes or by its own work.
STALL_MS = 2.0
# The lags (ms) at which a second's probes are counted (`Health.lag_over`): how many stalls of
# each size there were, for the error bound (analysis/generator.py). Fixed, so frames merge.
LAG_LEVELS_MS = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)


@dataclass(slots=True)
class OpFrame:
    """One operation's requests in a frame."""

    histogram: str  # encoded latency histogram of the requests that got a latency
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome key -> count
    bytes_sent: int = 0
    bytes_received: int = 0
    diagnostics: OpDiagnostics | None = None  # features, error templates, samples, phases
    # The bodies decoded (gzip, br...) for a check or capture, as they were decoded; their bytes
    # on the wire are in `bytes_received` with every other response's.
    bytes_decoded: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        out: dict[str, Any] = {
            "histogram": self.histogram,
            "outcomes": dict(self.outcomes),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "bytes_decoded": self.bytes_decoded,
        }
        if self.diagnostics is not None:
            out["diagnostics"] = self.diagnostics.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpFrame:
        """The inverse of `to_dict`."""
        return cls(
            histogram=str(d["histogram"]),
            outcomes={str(k): int(v) for k, v in d["outcomes"].items()},
            bytes_sent=int(d["bytes_sent"]),
            bytes_received=int(d["bytes_received"]),
            bytes_decoded=int(d.get("bytes_decoded", 0)),  # absent from older frames
            diagnostics=None
            if d.get("diagnostics") is None
            else OpDiagnostics.from_dict(d["diagnostics"]),
        )


@dataclass(slots=True)
class Health:
    """How the generator itself fared during the second (or, merged, across workers)."""

    cpu_percent: float = 0.0  # the worker process's CPU over the last second
    loop_lag_ms: float = 0.0  # max event-loop lag seen in the second
    in_flight: int = 0  # iterations in flight when the frame was taken
    users: int = 0  # active virtual users (closed model)
    late: int = 0  # open model: iterations started > 2 ms after their intended time
    dropped: int = 0  # open model: iterations not started because max_in_flight was reached
    lateness_p99_ms: float = 0.0  # open model: p99 of (actual - intended) send time
    # Whether the process was descheduled (docs/thresholds.md, "The generator's error bound"):
    loop_lag_p99_ms: float = 0.0  # p99 of the second's event-loop lag probes
    loop_lag_p50_ms: float = 0.0  # their median: the timer slack every request may carry
    # per LAG_LEVELS_MS level: how many probes were later than it, and their lags summed (ms)
    lag_over: list[int] = field(default_factory=list)
    lag_over_ms: list[float] = field(default_factory=list)
    involuntary_switches: int = 0  # the kernel took the CPU away this often (getrusage)
    steal_percent: float = 0.0  # the host's CPU time stolen by its hypervisor (/proc/stat)

    def merge(self, other: Health) -> None:
        """Fold another worker's health for the same second in: sums and maxima."""
        self.cpu_percent += other.cpu_percent
        self.loop_lag_ms = max(self.loop_lag_ms, other.loop_lag_ms)
        self.in_flight += other.in_flight
        self.users += other.users
        self.late += other.late
        self.dropped += other.dropped
        self.lateness_p99_ms = max(self.lateness_p99_ms, other.lateness_p99_ms)
        self.loop_lag_p99_ms = max(self.loop_lag_p99_ms, other.loop_lag_p99_ms)
        self.loop_lag_p50_ms = max(self.loop_lag_p50_ms, other.loop_lag_p50_ms)
        self.lag_over = _added(self.lag_over, other.lag_over)
        self.lag_over_ms = _added(self.lag_over_ms, other.lag_over_ms)
        self.involuntary_switches += other.involuntary_switches
        self.steal_percent = max(self.steal_percent, other.steal_percent)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "cpu_percent": self.cpu_percent,
            "loop_lag_ms": self.loop_lag_ms,
            "in_flight": self.in_flight,
            "users": self.users,
            "late": self.late,
            "dropped": self.dropped,
            "lateness_p99_ms": self.lateness_p99_ms,
            "loop_lag_p99_ms": self.loop_lag_p99_ms,
            "loop_lag_p50_ms": self.loop_lag_p50_ms,
            "lag_over": list(self.lag_over),
            "lag_over_ms": list(self.lag_over_ms),
            "involuntary_switches": self.involuntary_switches,
            "steal_percent": self.steal_percent,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Health:
        """The inverse of `to_dict`."""
        return cls(
            cpu_percent=float(d["cpu_percent"]),
            loop_lag_ms=float(d["loop_lag_ms"]),
            in_flight=int(d["in_flight"]),
            users=int(d["users"]),
            late=int(d["late"]),
            dropped=int(d["dropped"]),
            lateness_p99_ms=float(d["lateness_p99_ms"]),
            loop_lag_p99_ms=float(d.get("loop_lag_p99_ms", 0.0)),
            loop_lag_p50_ms=float(d.get("loop_lag_p50_ms", 0.0)),
            lag_over=[int(n) for n in d.get("lag_over", [])],
            lag_over_ms=[float(v) for v in d.get("lag_over_ms", [])],
            involuntary_switches=int(d.get("involuntary_switches", 0)),
            steal_percent=float(d.get("steal_percent", 0.0)),
        )


def _added(a: list[Any], b: list[Any]) -> list[Any]:
    """Two per-level lists added element by element (a missing one counts as zeros)."""
    if not a:
        return list(b)
    if not b:
        return a
    return [x + y for x, y in zip(a, b, strict=True)]


@dataclass(slots=True)
class Frame:
    """Everything one worker measured in one second of one stage."""

    worker: int
    stage: int
    second: int  # seconds since the stage started, 0-based
    time: float  # wall-clock UNIX time the frame was taken
    ops: dict[str, OpFrame]
    health: Health
    final: bool = False  # the worker's last frame for this stage
    lateness: str = ""  # open model: the second's dispatch lateness (µs), an encoded histogram

    def decode_histograms(self) -> dict[str, Any]:
        """Each operation's latency histogram, decoded (operation → HdrHistogram)."""
        return {name: decode_histogram(op.histogram) for name, op in self.ops.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "worker": self.worker,
            "stage": self.stage,
            "second": self.second,
            "time": self.time,
            "ops": {name: op.to_dict() for name, op in self.ops.items()},
            "health": self.health.to_dict(),
            "final": self.final,
            "lateness": self.lateness,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Frame:
        """The inverse of `to_dict`."""
        return cls(
            worker=int(d["worker"]),
            stage=int(d["stage"]),
            second=int(d["second"]),
            time=float(d["time"]),
            ops={str(name): OpFrame.from_dict(op) for name, op in d["ops"].items()},
            health=Health.from_dict(d["health"]),
            final=bool(d.get("final", False)),
            lateness=str(d.get("lateness", "")),
        )

    def to_json_line(self) -> str:
        """The frame as one line of `frames.jsonl`, newline included."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False) + "\n"

    @classmethod
    def from_json_line(cls, line: str) -> Frame:
        """The inverse of `to_json_line`; raises ValueError, KeyError or TypeError if malformed."""
        data = json.loads(line)
        if not isinstance(data, dict):
            raise TypeError("a frame line must hold a JSON object")
        return cls.from_dict(data)
