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

Each frame also carries its worker second's error bound (analysis/generator.py): the tracker
merges the frame's latencies a second and a third time, moved down and up by that bound, so
that a gate can be judged against it (analysis/gates.py). It does so for the stage totals
when a gate measures latency, and for the seconds only when a windowed or abort gate does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadlens.analysis.gates import Bounded, Measurement, judge, selected
from loadlens.analysis.generator import SecondBound, saturated, worker_bound
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.histogram import merge_into, new_histogram, shift_into
from loadlens.model.generator import GeneratorLimits
from loadlens.model.threshold import Threshold, Unit
from loadlens.model.verdict import GateResult

LATE_S = 3  # a worker's frame reaches the coordinator at most this many seconds late


@dataclass(slots=True)
class _Op:
    outcomes: dict[str, int] = field(default_factory=dict)
    histogram: Any = field(default_factory=new_histogram)
    bounded: Bounded | None = None  # the latencies moved by each second's bound, if kept


@dataclass(slots=True)
class _Bucket:
    """One stage second (or a stage so far), merged across workers."""

    ops: dict[str, _Op] = field(default_factory=dict)
    late: int = 0
    dropped: int = 0
    frames: int = 0
    max_worker_cpu: float = 0.0
    max_loop_lag_ms: float = 0.0
    saturated_frames: int = 0  # worker seconds at or above the saturation CPU
    saturation: str = ""  # the first saturated worker second, described
    bound_ms: float = 0.0  # the largest worker-second bound merged in
    cause: str = ""

    def add(
        self,
        frame: Frame,
        histograms: Mapping[str, Any],
        bound: SecondBound,
        saturation: str,
        *,
        bounded: bool,
    ) -> None:
        delta_us = round(bound.base_ms * 1000)
        for name, op_frame in frame.ops.items():
            op = self.ops.get(name)
            if op is None:
                op = self.ops[name] = _Op(bounded=Bounded() if bounded else None)
            for key, n in op_frame.outcomes.items():
                op.outcomes[key] = op.outcomes.get(key, 0) + n
            merge_into(op.histogram, histograms[name])
            if op.bounded is not None:
                shift_into(op.bounded.low, histograms[name], -delta_us)
                shift_into(op.bounded.high, histograms[name], delta_us)
                count = int(histograms[name].get_total_count())
                op.bounded.add_affected([min(count, n) for n in bound.affected])
        self.late += frame.health.late
        self.dropped += frame.health.dropped
        self.frames += 1
        self.max_worker_cpu = max(self.max_worker_cpu, frame.health.cpu_percent)
        self.max_loop_lag_ms = max(self.max_loop_lag_ms, frame.health.loop_lag_ms)
        if saturation:
            self.saturated_frames += 1
            self.saturation = self.saturation or saturation
        if bound.bound_ms > self.bound_ms:
            self.bound_ms, self.cause = bound.bound_ms, bound.cause

    def fold_into(self, m: Measurement, threshold: Threshold) -> None:
        names = selected(threshold, self.ops)
        for name in names:
            op = self.ops[name]
            m.add_outcomes(op.outcomes)
            merge_into(m.histogram, op.histogram)
        m.late += self.late
        m.dropped += self.dropped
        self.fold_bound_into(m, names)

    def fold_bound_into(self, m: Measurement, names: list[str]) -> None:
        """Fold the bound of the named operations in (nothing when none was kept)."""
        kept = [self.ops[name].bounded for name in names if name in self.ops]
        if not kept or any(b is None for b in kept):
            return
        if m.bounded is None:
            m.bounded = Bounded()
        for bounded in kept:
            assert bounded is not None
            merge_into(m.bounded.low, bounded.low)
            merge_into(m.bounded.high, bounded.high)
            m.bounded.add_affected(bounded.affected)
        m.bounded.add_bound(self.bound_ms, self.cause)

    def saturated_share(self) -> float:
        """The share of worker seconds merged in that were saturated."""
        return self.saturated_frames / self.frames if self.frames else 0.0


class WindowTracker:
    """Per-second data of the newest seconds of each stage, and each stage's totals so far."""

    def __init__(
        self,
        max_window_s: float = 60.0,
        limits: GeneratorLimits | None = None,
        *,
        bound_totals: bool = True,
        bound_seconds: bool = True,
    ) -> None:
        """`bound_totals` / `bound_seconds`: whether to keep the latencies moved by the error
        bound for the stage totals / the seconds (only latency gates need them)."""
        self.keep_s = math.ceil(max_window_s) + LATE_S
        self.limits = limits or GeneratorLimits()
        self.bound_totals = bound_totals
        self.bound_seconds = bound_seconds
        self._seconds: dict[int, dict[int, _Bucket]] = {}  # stage -> second -> bucket
        self._totals: dict[int, _Bucket] = {}
        self._newest: dict[int, int] = {}
        self._previous: dict[tuple[int, int], Health] = {}  # (stage, worker) -> last health

    @classmethod
    def for_gates(
        cls, gates: list[Threshold] | tuple[Threshold, ...], limits: GeneratorLimits | None = None
    ) -> WindowTracker:
        """A tracker that keeps enough seconds for the longest window among `gates`, and the
        error bound where a latency gate needs it."""
        windows = [gate.window_s for gate in gates if gate.window_s is not None]
        latency = [gate for gate in gates if gate.unit is Unit.LATENCY]
        return cls(
            max(windows, default=1.0),
            limits,
            bound_totals=bool(latency),
            bound_seconds=any(g.window_s is not None or g.abort for g in latency),
        )

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
        key = (frame.stage, frame.worker)
        bound = worker_bound(
            frame.health,
            self._previous.get(key),
            self.limits,
            worker=frame.worker,
            second=frame.second,
            requests=sum(int(h.get_total_count()) for h in histograms.values()),
        )
        self._previous[key] = frame.health
        busy = ""
        if saturated(frame.health, self.limits):
            busy = (
                f"the generator was saturated (worker {frame.worker} at "
                f"{frame.health.cpu_percent:.0f} % CPU in second {frame.second})"
            )
        totals = self._totals.get(frame.stage)
        if totals is None:
            totals = self._totals[frame.stage] = _Bucket()
        totals.add(frame, histograms, bound, busy, bounded=self.bound_totals)
        newest = max(self._newest.get(frame.stage, -1), frame.second)
        self._newest[frame.stage] = newest
        seconds = self._seconds.setdefault(frame.stage, {})
        if frame.second > newest - self.keep_s:
            seconds.setdefault(frame.second, _Bucket()).add(
                frame, histograms, bound, busy, bounded=self.bound_seconds
            )
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

    def stage_bound(self, threshold: Threshold, stage: int) -> Bounded | None:
        """The error bound over a whole stage for a gate's operations (None if not kept)."""
        totals = self._totals.get(stage)
        if totals is None:
            return None
        m = Measurement()
        totals.fold_bound_into(m, selected(threshold, totals.ops))
        if m.bounded is not None:
            m.bounded.saturated = self._saturation(totals)
        elif threshold.unit is not Unit.LATENCY:
            m.bounded = Bounded(saturated=self._saturation(totals))
        return m.bounded

    def _saturation(self, bucket: _Bucket) -> str:
        if bucket.saturated_share() > self.limits.saturated_seconds:
            return (
                f"{bucket.saturation}; {bucket.saturated_frames} of {bucket.frames} worker "
                f"seconds at or above {self.limits.max_cpu_percent:.0f} % CPU"
            )
        return ""

    def evaluate(
        self, threshold: Threshold, stage: int, now_second: int, *, stage_name: str = ""
    ) -> GateResult:
        """Judge a gate on its window ending at `now_second`, or on the stage so far."""
        m = self.measurement(threshold, stage, now_second)
        if threshold.window_s is None:
            return judge(threshold, m, stage=stage_name)
        return judge(
            threshold, m, stage=stage_name, window_s=threshold.window_s, at_second=now_second
        )

    def measurement(self, threshold: Threshold, stage: int, now_second: int) -> Measurement:
        """What a gate is judged on: its window ending at `now_second`, or the stage so far."""
        m = Measurement()
        if threshold.window_s is None:
            totals = self._totals.get(stage)
            if totals is not None:
                totals.fold_into(m, threshold)
                if m.bounded is not None:
                    m.bounded.saturated = self._saturation(totals)
            m.seconds = float(max(now_second + 1, 0))
            return m
        width = math.ceil(threshold.window_s)
        first = max(0, now_second - width + 1)
        seconds = self._seconds.get(stage, {})
        for second in range(first, now_second + 1):
            bucket = seconds.get(second)
            if bucket is not None:
                bucket.fold_into(m, threshold)
                if m.bounded is not None and not m.bounded.saturated:
                    m.bounded.saturated = self._saturation(bucket)
        m.seconds = float(max(now_second - first + 1, 0))
        return m
