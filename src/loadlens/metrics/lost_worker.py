"""A worker process that ended before its stage did (killed, crashed): what the run lost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LostWorker:
    """Which worker was lost, when, and what it took with it."""

    worker: int  # the worker's number (frames' `worker`)
    pid: int | None  # its process id
    stage: int  # index of the stage it was lost in
    stage_name: str
    lost_after_s: float  # seconds into the stage, by the coordinator's clock
    lost_at: float  # UNIX seconds
    cause: str  # "killed by SIGKILL", "exited with code 1", "crashed: ValueError: ..."
    reported: int  # requests of that stage in the frames it sent
    # Requests in flight at its last frame: sent, never reported. A lower bound: what it sent
    # after that frame is known to nobody but the service.
    unreported: int
    share: str  # its part of the stage's load as planned: "2 of 4 users", "50 of 100 arrivals/s"
    share_fraction: float  # ... as a fraction of the stage's load
    # Whether the run went on with the other workers (a cluster run) rather than stop; then
    # the stage's length tells how much of its load was not delivered (`shortfall`).
    went_on: bool = False
    stage_length_s: float = 0.0

    @property
    def shortfall(self) -> float:
        """The fraction of its stage's planned load never sent because of this loss: its share
        over the rest of the stage (a run that stopped lost its share and every later stage)."""
        if not self.went_on or self.stage_length_s <= 0:
            return self.share_fraction
        left = max(self.stage_length_s - self.lost_after_s, 0.0) / self.stage_length_s
        return self.share_fraction * left

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "worker": self.worker,
            "pid": self.pid,
            "stage": self.stage,
            "stage_name": self.stage_name,
            "lost_after_s": self.lost_after_s,
            "lost_at": self.lost_at,
            "cause": self.cause,
            "reported": self.reported,
            "unreported": self.unreported,
            "share": self.share,
            "share_fraction": self.share_fraction,
            "went_on": self.went_on,
            "stage_length_s": self.stage_length_s,
            "shortfall": self.shortfall,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LostWorker:
        """The inverse of `to_dict`."""
        return cls(
            worker=int(d["worker"]),
            pid=None if d.get("pid") is None else int(d["pid"]),
            stage=int(d["stage"]),
            stage_name=str(d["stage_name"]),
            lost_after_s=float(d["lost_after_s"]),
            lost_at=float(d["lost_at"]),
            cause=str(d["cause"]),
            reported=int(d["reported"]),
            unreported=int(d["unreported"]),
            share=str(d["share"]),
            share_fraction=float(d["share_fraction"]),
            went_on=bool(d.get("went_on", False)),
            stage_length_s=float(d.get("stage_length_s", 0.0)),
        )
