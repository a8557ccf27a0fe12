"""Sliding windows over the live run: per-second merged data for `over W` and abort gates.

How it works: the coordinator hands every worker's frame to `add_frame`. The tracker merges
it into a bucket for its (stage, second): per operation, the outcome counts and the HDR
histogram, plus the generator's late and dropped iterations. Buckets older than the longest
window (plus the few seconds a slow worker's frame may lag) are dropped, so memory is bounded
by window length × operations whatever the run length. Alongside, it keeps each stage's
cumulative totals, so a gate without a window can be judged on the stage so far.

`evaluate(threshold, stage, now_second)` judges a gate on the seconds
`now_second - W + 1 .. now_second` (W = the gate's window, rounded up), or on the whole stage
so far when the gate has no window. Call it for a second every worker has reported: the
newest second minus one is safe (`settled_second`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadlens.analysis.gates import Measurement, judge, selected
from loadlens.metrics.frame import Frame
from loadlens.metrics.histogram import merge_into, new_histogram
from loadlens.model.threshold import Threshold
from loadlens.model.verdict import GateResult

LATE_S = 3  # a worker's frame reaches the coordinator at most this many seconds late


@dataclass(slots=True)
class _Op:
    outcomes: dict[str, int] = field(default_factory=dict)
    histogram: Any = field(default_factory=new_histogram)


@dataclass(slots=True)
class _Bucket:
    """One stage second (or a stage so far), merged across workers."""

    ops: dict[str, _Op] = field(default_factory=dict)
    late: int = 0
    dropped: int = 0
    frames: int = 0
    max_worker_cpu: float = 0.0
    max_loop_lag_ms: float = 0.0

    def add(self, frame: Frame, histograms: Mapping[str, Any]) -> None:
        for name, op_frame in frame.ops.items():
            op = self.ops.get(name)
            if op is None:
                op = self.ops[name] = _Op()
            for key, n in op_frame.outcomes.items():
                op.outcomes[key] = op.outcomes.get(key, 0) + n
            merge_into(op.histogram, histograms[name])
        self.late += frame.health.late
        self.dropped += frame.health.dropped
        self.frames += 1
        self.max_worker_cpu = max(self.max_worker_cpu, frame.health.cpu_percent)
        self.max_loop_lag_ms = max(self.max_loop_lag_ms, frame.health.loop_lag_ms)

    def fold_into(self, m: Measurement, threshold: Threshold) -> None:
        for name in selected(threshold, self.ops):
            op = self.ops[name]
            m.add_outcomes(op.outcomes)
            merge_into(m.histogram, op.histogram)
        m.late += self.late
        m.dropped += self.dropped


class WindowTracker:
    """Per-second data of the newest seconds of each stage, and each stage's totals so far."""

    def __init__(self, max_window_s: float = 60.0) -> None:
        self.keep_s = math.ceil(max_window_s) + LATE_S
        self._seconds: dict[int, dict[int, _Bucket]] = {}  # stage -> second -> bucket
        self._totals: dict[int, _Bucket] = {}
        self._newest: dict[int, int] = {}

    @classmethod
    def for_gates(cls, gates: list[Threshold] | tuple[Threshold, ...]) -> WindowTracker:
        """A tracker that keeps enough seconds for the longest window among `gates`."""
        windows = [gate.window_s for gate in gates if gate.window_s is not None]
        return cls(max(windows, default=1.0))

    @property
    def retained_histograms(self) -> int:
        """Per-second histograms held now: at most (window + LATE_S + 1) × operations each."""
        return sum(len(b.ops) for seconds in self._seconds.values() for b in seconds.values())

    def add_frame(self, frame: Frame, histograms: Mapping[str, Any] | None = None) -> None:
        """Merge one worker's frame; frames may arrive in any order, a little late.

        `histograms`: the frame's, already decoded by the caller (only read); else decoded here.
        """
        if histograms is None:
            histograms = frame.decode_histograms()
        totals = self._totals.get(frame.stage)
        if totals is None:
            totals = self._totals[frame.stage] = _Bucket()
        totals.add(frame, histograms)
        newest = max(self._newest.get(frame.stage, -1), frame.second)
        self._newest[frame.stage] = newest
        seconds = self._seconds.setdefault(frame.stage, {})
        if frame.second > newest - self.keep_s:
            seconds.setdefault(frame.second, _Bucket()).add(frame, histograms)
        for old in [s for s in seconds if s <= newest - self.keep_s]:
            del seconds[old]

    def newest_second(self, stage: int) -> int:
        """The newest second any worker reported for the stage; -1 before any frame."""
        return self._newest.get(stage, -1)

    def settled_second(self, stage: int) -> int:
        """A second that every worker has most likely reported (the newest minus one)."""
        return self.newest_second(stage) - 1

    def stage_totals(self, stage: int) -> tuple[int, int]:
        """Late and dropped iterations of a stage so far."""
        totals = self._totals.get(stage)
        return (totals.late, totals.dropped) if totals is not None else (0, 0)

    def forget(self, stage: int) -> None:
        """Drop a finished stage's data."""
        self._seconds.pop(stage, None)
        self._totals.pop(stage, None)

    def evaluate(
        self, threshold: Threshold, stage: int, now_second: int, *, stage_name: str = ""
    ) -> GateResult:
        """Judge a gate on its window ending at `now_second`, or on the stage so far."""
        m = Measurement()
        if threshold.window_s is None:
            totals = self._totals.get(stage)
            if totals is not None:
                totals.fold_into(m, threshold)
            m.seconds = float(max(now_second + 1, 0))
            return judge(threshold, m, stage=stage_name)
        width = math.ceil(threshold.window_s)
        first = max(0, now_second - width + 1)
        seconds = self._seconds.get(stage, {})
        for second in range(first, now_second + 1):
            bucket = seconds.get(second)
            if bucket is not None:
                bucket.fold_into(m, threshold)
        m.seconds = float(max(now_second - first + 1, 0))
        return judge(
            threshold, m, stage=stage_name, window_s=threshold.window_s, at_second=now_second
        )
