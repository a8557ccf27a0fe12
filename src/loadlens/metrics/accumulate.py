"""The coordinator side: merges every worker's frames into stage totals, a series and a result.

How it works: each frame's op histograms are decoded once and added into one HDR histogram
per (stage, operation) and one per stage for all operations, so stage and run percentiles are
exact merges, never averages. The per-second view lives in `Series`, which keeps histograms
only for the last few seconds. Memory is a fixed number of histograms per stage and
operation plus a handful of numbers per second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loadlens.metrics.diagnostics import OpDiagnostics
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import LatencySummary, decode_histogram, merge_into, new_histogram
from loadlens.metrics.result import (
    HealthSummary,
    OpStats,
    RunInfo,
    RunResult,
    StageInfo,
    StageResult,
)
from loadlens.metrics.series import Series
from loadlens.model.outcome import is_success_key


@dataclass(slots=True)
class _Totals:
    """Counters and a lossless histogram for one operation (or all) over one stage."""

    outcomes: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    received: int = 0
    decoded: int = 0
    histogram: Any = field(default_factory=new_histogram)
    diagnostics: OpDiagnostics | None = None  # per stage × operation only, never run-wide

    def add(self, op: OpFrame, histogram: Any) -> None:
        for key, n in op.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + n
        self.sent += op.bytes_sent
        self.received += op.bytes_received
        self.decoded += op.bytes_decoded
        merge_into(self.histogram, histogram)

    def merge(self, other: _Totals) -> None:
        for key, n in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + n
        self.sent += other.sent
        self.received += other.received
        self.decoded += other.decoded
        merge_into(self.histogram, other.histogram)

    def count(self) -> int:
        return sum(self.outcomes.values())

    def stats(self) -> OpStats:
        return OpStats.build(
            self.outcomes, self.sent, self.received, self.histogram, decoded=self.decoded
        )

    def live(self, rps: float) -> LiveOp:
        summary = LatencySummary.of(self.histogram)
        count = self.count()
        ok = sum(n for key, n in self.outcomes.items() if is_success_key(key))
        return LiveOp(
            rps=rps,
            count=count,
            samples=summary.count,
            p50=summary.p50,
            p95=summary.p95,
            p99=summary.p99,
            error_rate=(count - ok) / count if count else 0.0,
        )


@dataclass(slots=True)
class _Stage:
    ops: dict[str, _Totals] = field(default_factory=dict)
    total: _Totals = field(default_factory=_Totals)
    workers: set[int] = field(default_factory=set)
    started_at: float | None = None
    ended_at: float | None = None
    marked_start: float | None = None
    marked_end: float | None = None


@dataclass(frozen=True, slots=True)
class LiveOp:
    """What a live view shows for one operation (or all): rate now, the rest cumulative."""

    rps: float  # requests per second over the last second(s)
    count: int  # requests so far in the stage
    samples: int  # requests with a latency: the sample count behind the percentiles
    p50: float  # ms, cumulative for the stage
    p95: float
    p99: float
    error_rate: float  # non-ok / count, cumulative for the stage


@dataclass(frozen=True, slots=True)
class LiveStats:
    """A stage as a terminal view shows it."""

    stage: int
    second: int  # the newest second all workers have reported; -1 before any frame
    ops: dict[str, LiveOp]
    total: LiveOp
    health: Health  # merged across workers for `second`


class RunAccumulator:
    """Coordinator side: merges frames from all workers."""

    def __init__(self, operations: Sequence[str], stages: Sequence[StageInfo]) -> None:
        self._operations = list(operations)
        self._infos = {info.index: info for info in stages}
        self._stages: dict[int, _Stage] = {}
        self._series = Series()
        self._max_cpu = 0.0
        self._max_lag = 0.0
        self._late = 0
        self._dropped = 0
        self._max_lateness = 0.0
        self._lateness = new_histogram()  # µs, every worker's arrivals

    @property
    def retained_histograms(self) -> int:
        """Per-second histograms held now; bounded whatever the run length."""
        return self._series.retained_histograms

    def add(self, frame: Frame) -> dict[str, Any]:
        """Merge one worker's frame; frames may come in any order, a little late.

        Returns the frame's decoded histograms (operation → histogram, not to be changed), so
        that whoever else reads the frame (the gates' windows) need not decode it again."""
        if frame.stage not in self._infos:
            raise ValueError(f"frame for unknown stage {frame.stage}")
        stage = self._stages.get(frame.stage)
        if stage is None:
            stage = self._stages[frame.stage] = _Stage()
        histograms = frame.decode_histograms()
        for name, op in frame.ops.items():
            if name not in self._operations:
                self._operations.append(name)
            totals = stage.ops.get(name)
            if totals is None:
                totals = stage.ops[name] = _Totals()
            totals.add(op, histograms[name])
            stage.total.add(op, histograms[name])
            if op.diagnostics is not None:
                if totals.diagnostics is None:
                    totals.diagnostics = OpDiagnostics()
                totals.diagnostics.merge(op.diagnostics)
        stage.workers.add(frame.worker)
        # A frame for second s is taken about s + 1 seconds after the stage started.
        began = frame.time - frame.second - (0 if frame.final else 1)
        stage.started_at = began if stage.started_at is None else min(stage.started_at, began)
        stage.ended_at = frame.time if stage.ended_at is None else max(stage.ended_at, frame.time)
        self._series.add(frame, histograms)
        health = frame.health
        self._max_cpu = max(self._max_cpu, health.cpu_percent)
        self._max_lag = max(self._max_lag, health.loop_lag_ms)
        self._late += health.late
        self._dropped += health.dropped
        self._max_lateness = max(self._max_lateness, health.lateness_p99_ms)
        if frame.lateness:
            merge_into(self._lateness, decode_histogram(frame.lateness))
        return histograms

    def mark_stage(
        self, stage: int, *, started_at: float | None = None, ended_at: float | None = None
    ) -> None:
        """Record when a stage really started or ended (better than what frames suggest)."""
        state = self._stages.setdefault(stage, _Stage())
        if started_at is not None:
            state.marked_start = started_at
        if ended_at is not None:
            state.marked_end = ended_at

    def stage_ops(self, stage: int) -> dict[str, OpStats]:
        """Each operation's requests in a stage so far, in scenario order."""
        state = self._stages.get(stage)
        if state is None:
            return {}
        return {name: state.ops[name].stats() for name in self._operations if name in state.ops}

    def live_view(self, stage: int, last_seconds: int = 1) -> LiveStats:
        """Rates over the last reported second(s); percentiles and errors cumulative."""
        state = self._stages.get(stage) or _Stage()
        newest = self._reported_second(stage, len(state.workers))
        first = max(0, newest - max(1, last_seconds) + 1)
        span = newest - first + 1 if newest >= 0 else 0
        per_op: dict[str, int] = {}
        for second in range(first, newest + 1):
            for name, n in self._series.counts_at((stage, second)).items():
                per_op[name] = per_op.get(name, 0) + n
        ops = {
            name: state.ops[name].live(per_op.get(name, 0) / span if span else 0.0)
            for name in self._operations
            if name in state.ops
        }
        total_rps = sum(per_op.values()) / span if span else 0.0
        return LiveStats(
            stage=stage,
            second=newest,
            ops=ops,
            total=state.total.live(total_rps),
            health=self._series.health_at((stage, newest)),
        )

    def _reported_second(self, stage: int, workers: int) -> int:
        """The newest second every worker has reported, else the newest reported at all."""
        newest = self._series.newest_second(stage)
        for second in (newest, newest - 1):
            if second >= 0 and self._series.workers_at((stage, second)) >= workers:
                return second
        return newest

    def result(self, *, run: RunInfo, complete: bool, interrupted: bool = False) -> RunResult:
        """The RunResult of everything merged so far."""
        stages: list[StageResult] = []
        run_ops: dict[str, _Totals] = {}
        run_total = _Totals()
        for index in sorted(self._infos):
            state = self._stages.get(index) or _Stage()
            ran = bool(state.workers)
            for name, totals in state.ops.items():
                run_ops.setdefault(name, _Totals()).merge(totals)
            run_total.merge(state.total)
            stages.append(
                StageResult(
                    info=self._infos[index],
                    ran=ran,
                    started_at=_first(state.marked_start, state.started_at),
                    ended_at=_first(state.marked_end, state.ended_at),
                    operations=self.stage_ops(index),
                    total=state.total.stats(),
                    diagnostics={
                        name: state.ops[name].diagnostics or OpDiagnostics()
                        for name in self._operations
                        if name in state.ops and state.ops[name].diagnostics is not None
                    },
                )
            )
        return RunResult(
            run=run,
            complete=complete,
            interrupted=interrupted,
            stages=stages,
            operations={n: run_ops[n].stats() for n in self._operations if n in run_ops},
            total=run_total.stats(),
            series=self._series.points(),
            health=HealthSummary(
                max_cpu_percent=self._max_cpu,
                max_loop_lag_ms=self._max_lag,
                late=self._late,
                dropped=self._dropped,
                max_lateness_p99_ms=self._max_lateness,
                lateness=(
                    LatencySummary.of(self._lateness) if self._lateness.get_total_count() else None
                ),
            ),
        )


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)
