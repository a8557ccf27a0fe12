"""A synthetic RunResult of a 1-hour run: 3,600 one-second points × several operations, stage
names that sit close together (a 2-second `set` beside `smoke`), failure samples with their
responses, timing phases, and an observed service metric. Built without running anything."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.diagnostics import OpDiagnostics, Phases, RequestSample
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import encode_histogram, new_histogram, record_values
from loadlens.metrics.result import (
    RunInfo,
    RunResult,
    SeriesOp,
    SeriesPoint,
    StageInfo,
    StageResult,
)
from loadlens.model.observation import MetricSeries, ObservationResult

T0 = 1_760_950_800.0
OPERATIONS = ("login", "list-users", "create-user", "read-user", "update-user", "delete-user")
# name, load, seconds: a 2-second `set` right before `smoke` once drew "setsmoke"
STAGES = (
    ("set", {"model": "closed", "users": 2}, 2),
    ("smoke", {"model": "closed", "users": 5}, 58),
    ("ramp to 200/s", {"model": "open", "rate": 200.0}, 540),
    ("soak at 200 requests per second", {"model": "open", "rate": 200.0}, 3000),
)


def _op_frame(base_ms: float, n: int, failed: int) -> OpFrame:
    h = new_histogram()
    values = [int((base_ms + (i % 10) * 0.3) * 1000) for i in range(n)]
    record_values(h, np.array(values, dtype=np.int64))
    outcomes = {"ok": n - failed}
    if failed:
        outcomes["status:500"] = failed
    return OpFrame(encode_histogram(h), outcomes, 100 * n, 400 * n)


def hour_result() -> RunResult:
    """3,600 seconds over four stages, six operations; deterministic."""
    stages = [StageInfo(name, i, load, float(s), 0.0) for i, (name, load, s) in enumerate(STAGES)]
    accumulator = RunAccumulator(list(OPERATIONS), stages)
    offset = 0.0
    for info in stages:
        accumulator.mark_stage(
            info.index, started_at=T0 + offset, ended_at=T0 + offset + info.duration_s
        )
        ops = {op: _op_frame(2.0 + i, 50, i % 2) for i, op in enumerate(OPERATIONS)}
        accumulator.add(
            Frame(worker=0, stage=info.index, second=0, time=T0 + offset + 1, ops=ops,
                  health=Health(users=int(info.load.get("users", 0))), final=True)
        )  # fmt: skip
        offset += info.duration_s
    result = accumulator.result(run=dataclasses.replace(_RUN), complete=True)
    return dataclasses.replace(
        result,
        series=_series(stages),
        observation=ObservationResult(
            every=1.0,
            metrics=(
                MetricSeries(
                    "db_pool_in_use",
                    tuple((float(t), 10 + 5 * math.sin(t / 300)) for t in range(3600)),
                ),
            ),
        ),
        stages=[_with_diagnostics(stage) for stage in result.stages],
    )


def _series(stages: list[StageInfo]) -> list[SeriesPoint]:
    points = []
    offset = 0.0
    for info in stages:
        for second in range(int(info.duration_s)):
            t = offset + second
            ops = {}
            for i, op in enumerate(OPERATIONS):
                p50 = 2.0 + i + math.sin(t / 120) + (t % 7) * 0.05
                errors = 1 if (t + i) % 97 == 0 else 0
                ops[op] = SeriesOp(30, 30 - errors, errors, 30, p50, p50 * 2.5, p50 * 4.1)
            total = SeriesOp(180, 180 - sum(o.errors for o in ops.values()), 0, 180)
            total.errors = 180 - total.ok
            health = Health(users=int(info.load.get("users", 0)), cpu_percent=40.0)
            points.append(SeriesPoint(info.index, second, T0 + t + 1, 1, ops, total, health))
        offset += info.duration_s
    return points


def _with_diagnostics(stage: StageResult) -> StageResult:
    diagnostics = {}
    for i, op in enumerate(OPERATIONS):
        sample = RequestSample(
            outcome="status:500",
            method="POST",
            target=f"/users/{i}?token=***",
            status=500,
            latency_ms=12.5 + i,
            response='{"error": "UNIQUE constraint failed: refresh_tokens.token"}',
            variables={"id": str(1000 + i)},
        )
        phases = Phases(
            responses=1000,
            connect_us=40_000,
            send_us=20_000,
            wait_us=2_000_000 * (i + 1),
            receive_us=150_000,
        )
        diagnostics[op] = OpDiagnostics(samples=[sample], phases=phases)
    return dataclasses.replace(stage, diagnostics=diagnostics)


_RUN = RunInfo(
    run_id="20251020-090000-hour",
    scenario="hour",
    source="hour.yaml",
    source_sha256="3f" * 32,
    target="http://127.0.0.1:8000",
    command=["loadlens", "run", "hour.yaml"],
    workers=1,
    hostname="loadgen-1",
    loadlens_version="0.1.0",
    python_version="3.11.7",
    started_at=T0,
    ended_at=T0 + 3600,
)
