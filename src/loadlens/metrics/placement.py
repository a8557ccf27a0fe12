"""Where a worker ran and how its clock stood against the coordinator's (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class WorkerPlace:
    """One worker of a cluster run: its node, and its clock as measured at the handshake."""

    worker: int  # the worker's number (frames' `worker`)
    host: str
    node: str  # the cluster's id of the node ("" for a local worker)
    pid: int
    # The worker's wall clock minus the coordinator's, in ms, and the bound on that figure's
    # error (half the shortest ping's round trip). A local worker shares the coordinator's
    # clock: 0 and 0.
    clock_offset_ms: float = 0.0
    clock_uncertainty_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "worker": self.worker,
            "host": self.host,
            "node": self.node,
            "pid": self.pid,
            "clock_offset_ms": self.clock_offset_ms,
            "clock_uncertainty_ms": self.clock_uncertainty_ms,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkerPlace:
        """The inverse of `to_dict`."""
        return cls(
            worker=int(d["worker"]),
            host=str(d["host"]),
            node=str(d["node"]),
            pid=int(d["pid"]),
            clock_offset_ms=float(d.get("clock_offset_ms", 0.0)),
            clock_uncertainty_ms=float(d.get("clock_uncertainty_ms", 0.0)),
        )
