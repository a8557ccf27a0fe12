"""Synthetic RunResults for the diagnosis tests: stages × operations built from counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loadlens.metrics.diagnostics import ErrorTemplate, FeatureCounts, OpDiagnostics, RequestSample
from loadlens.metrics.frame import Health
from loadlens.metrics.histogram import decode_histogram, merge_into, new_histogram, record_values
from loadlens.metrics.result import (
    OpStats,
    RunInfo,
    RunResult,
    SeriesOp,
    SeriesPoint,
    StageInfo,
    StageResult,
)
from loadlens.model.finding import Finding, Severity

RUN = RunInfo(
    run_id="r1",
    scenario="synthetic",
    source="synthetic.yaml",
    source_sha256="0" * 64,
    target="http://127.0.0.1:8000",
    command=["loadlens", "run", "synthetic.yaml"],
    workers=1,
    hostname="box",
    loadlens_version="0.1.0",
    python_version="3.11.9",
    started_at=1000.0,
)


def op(outcomes: dict[str, int], latency_ms: float | Sequence[float] = 5.0) -> OpStats:
    """An operation with these outcomes; every request took `latency_ms` (or one value each)."""
    n = sum(outcomes.values())
    values = [latency_ms] * n if isinstance(latency_ms, int | float) else list(latency_ms)
    h = new_histogram()
    record_values(h, np.array([round(v * 1000) for v in values], dtype=np.int64))
    return OpStats.build(outcomes, 0, 0, h)


def sample(outcome: str, latency_ms: float, target: str = "/x", **variables: str) -> RequestSample:
    """An example request."""
    status = int(outcome.split(":")[1]) if outcome.rsplit(":", maxsplit=1)[-1].isdigit() else None
    return RequestSample(outcome, "GET", target, status, latency_ms, "", dict(variables))


def diag(
    features: dict[str, dict[str, int]],
    samples: Sequence[RequestSample] = (),
    templates: Sequence[ErrorTemplate] = (),
    headers: dict[str, int] | None = None,
) -> OpDiagnostics:
    """Diagnostics with these feature counts."""
    return OpDiagnostics(
        features=FeatureCounts(dict(features)),
        templates=list(templates),
        samples=list(samples),
        headers=dict(headers or {}),
    )


def _merged(stats: Sequence[OpStats]) -> OpStats:
    outcomes: dict[str, int] = {}
    h = new_histogram()
    for s in stats:
        for key, n in s.outcomes.items():
            outcomes[key] = outcomes.get(key, 0) + n
        merge_into(h, decode_histogram(s.histogram))
    return OpStats.build(outcomes, 0, 0, h)


def stage(
    index: int,
    ops: dict[str, OpStats],
    diagnostics: dict[str, OpDiagnostics] | None = None,
    *,
    users: int | None = None,
    rate: float | None = None,
    duration: float = 30.0,
) -> StageResult:
    """A stage that ran for `duration` seconds at `users` (closed) or `rate` (open)."""
    load = {"model": "closed", "users": users} if rate is None else {"model": "open", "rate": rate}
    info = StageInfo(f"s{index + 1}", index, load, duration, 0.0)
    start = 1000.0 + index * duration
    return StageResult(
        info=info,
        ran=True,
        started_at=start,
        ended_at=start + duration,
        operations=ops,
        total=_merged(list(ops.values())),
        diagnostics=dict(diagnostics or {}),
    )


def run(stages: list[StageResult], series: Sequence[SeriesPoint] = ()) -> RunResult:
    """A complete run of these stages."""
    names: dict[str, None] = {}
    for s in stages:
        names.update(dict.fromkeys(s.operations))
    operations = {
        name: _merged([s.operations[name] for s in stages if name in s.operations])
        for name in names
    }
    return RunResult(
        run=RUN,
        complete=True,
        interrupted=False,
        stages=stages,
        operations=operations,
        total=_merged(list(operations.values())),
        series=list(series),
    )


def point(
    stage_index: int, second: int, ops: dict[str, SeriesOp], cpu: float = 20.0
) -> SeriesPoint:
    """One second of the series."""
    count = sum(o.count for o in ops.values())
    total = SeriesOp(count=count, ok=count, samples=count)
    return SeriesPoint(stage_index, second, 1000.0 + second, 1, ops, total, Health(cpu_percent=cpu))


def majors(findings: list[Finding]) -> list[Finding]:
    """The major findings."""
    return [f for f in findings if f.severity is Severity.MAJOR]


def texts(finding: Finding) -> str:
    """Every evidence and counter-evidence line, joined, for `in` assertions."""
    return "\n".join(e.text for e in (*finding.evidence, *finding.counter_evidence))
