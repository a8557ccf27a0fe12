"""The time series: one point per (stage, second), merged across workers, in bounded memory.

How it works: frames for one second reach the coordinator from every worker, a slow worker's
up to ~2 s after the others. A second stays *open* (its per-operation histograms kept, so its
percentiles come from a lossless merge) until the stage has moved `LATE_WINDOW_S` seconds past
it, or a later stage has; then it is *closed* into a few numbers and its histograms dropped.
So the histograms held at any time are at most (window + 1) seconds × operations, whatever the
run length. A frame that arrives after its second closed still adds its counts and health;
only that second's percentiles miss it (the stage's own histograms never do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.histogram import LatencySummary, merge_into, new_histogram
from loadlens.metrics.result import SeriesOp, SeriesPoint
from loadlens.model.outcome import is_success_key

LATE_WINDOW_S = 3  # a second stays open this many seconds; frames arrive at most ~2 s late

Key = tuple[int, int]  # (stage, second)


@dataclass(slots=True)
class _OpSecond:
    count: int = 0
    ok: int = 0
    histogram: Any = field(default_factory=new_histogram)


@dataclass(slots=True)
class _OpenSecond:
    stage: int
    second: int
    time: float = 0.0
    workers: int = 0
    ops: dict[str, _OpSecond] = field(default_factory=dict)
    health: Health = field(default_factory=Health)

    def close(self) -> SeriesPoint:
        total_histogram = new_histogram()
        ops: dict[str, SeriesOp] = {}
        for name, op in self.ops.items():
            merge_into(total_histogram, op.histogram)
            ops[name] = _series_op(op.count, op.ok, op.histogram)
        count = sum(op.count for op in self.ops.values())
        ok = sum(op.ok for op in self.ops.values())
        return SeriesPoint(
            stage=self.stage,
            second=self.second,
            time=self.time,
            workers=self.workers,
            ops=ops,
            total=_series_op(count, ok, total_histogram),
            health=Health(**self.health.to_dict()),
        )


def _series_op(count: int, ok: int, histogram: Any) -> SeriesOp:
    summary = LatencySummary.of(histogram)
    return SeriesOp(
        count=count,
        ok=ok,
        errors=count - ok,
        samples=summary.count,
        p50=summary.p50,
        p95=summary.p95,
        p99=summary.p99,
    )


def _counts(outcomes: dict[str, int]) -> tuple[int, int]:
    count = sum(outcomes.values())
    ok = sum(n for key, n in outcomes.items() if is_success_key(key))
    return count, ok


class Series:
    """Merges frames into per-second points; only the newest seconds keep histograms."""

    def __init__(self) -> None:
        self._open: dict[Key, _OpenSecond] = {}
        self._closed: dict[Key, SeriesPoint] = {}
        self._newest: dict[int, int] = {}  # stage -> newest second seen

    @property
    def retained_histograms(self) -> int:
        """How many per-second histograms are held now (bounded by the late window)."""
        return sum(len(second.ops) for second in self._open.values())

    def add(self, frame: Frame, histograms: Mapping[str, Any]) -> None:
        """Merge a frame whose op histograms the caller already decoded."""
        key = (frame.stage, frame.second)
        closed = self._closed.get(key)
        if closed is not None:
            self._add_late(closed, frame, histograms)
            return
        second = self._open.get(key)
        if second is None:
            second = self._open[key] = _OpenSecond(frame.stage, frame.second)
        second.time = max(second.time, frame.time)
        second.workers += 1
        second.health.merge(frame.health)
        for name, op_frame in frame.ops.items():
            op = second.ops.get(name)
            if op is None:
                op = second.ops[name] = _OpSecond()
            count, ok = _counts(op_frame.outcomes)
            op.count += count
            op.ok += ok
            merge_into(op.histogram, histograms[name])
        self._newest[frame.stage] = max(self._newest.get(frame.stage, -1), frame.second)
        self._close_old()

    def _add_late(self, point: SeriesPoint, frame: Frame, histograms: Mapping[str, Any]) -> None:
        point.time = max(point.time, frame.time)
        point.workers += 1
        point.health.merge(frame.health)
        for name, op_frame in frame.ops.items():
            count, ok = _counts(op_frame.outcomes)
            samples = int(histograms[name].get_total_count())
            for target in (point.ops.setdefault(name, SeriesOp()), point.total):
                target.count += count
                target.ok += ok
                target.errors += count - ok
                target.samples += samples

    def _close_old(self) -> None:
        newest_stage = max(self._newest)
        for key in [key for key in self._open if self._is_settled(key, newest_stage)]:
            self._closed[key] = self._open.pop(key).close()

    def _is_settled(self, key: Key, newest_stage: int) -> bool:
        stage, second = key
        if second < self._newest[stage] - LATE_WINDOW_S:
            return True
        return stage < newest_stage and self._newest[newest_stage] >= LATE_WINDOW_S

    def workers_at(self, key: Key) -> int:
        """How many frames merged into a second so far (0 if none)."""
        second = self._open.get(key)
        if second is not None:
            return second.workers
        point = self._closed.get(key)
        return point.workers if point is not None else 0

    def counts_at(self, key: Key) -> dict[str, int]:
        """Requests per operation in a second so far."""
        second = self._open.get(key)
        if second is not None:
            return {name: op.count for name, op in second.ops.items()}
        point = self._closed.get(key)
        return {name: op.count for name, op in point.ops.items()} if point else {}

    def health_at(self, key: Key) -> Health:
        """The merged health of a second so far."""
        second = self._open.get(key)
        if second is not None:
            return second.health
        point = self._closed.get(key)
        return point.health if point is not None else Health()

    def newest_second(self, stage: int) -> int:
        """The newest second seen for a stage, -1 if none."""
        return self._newest.get(stage, -1)

    def points(self) -> list[SeriesPoint]:
        """Every second in order; open seconds are summarised without being closed."""
        merged = dict(self._closed)
        for key, second in self._open.items():
            merged[key] = second.close()
        return [merged[key] for key in sorted(merged)]
