"""Synthetic RunResults for store, comparison and history tests (no engine needed)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from loadlens.metrics.histogram import new_histogram, record_values
from loadlens.metrics.result import (
    HealthSummary,
    OpStats,
    RunInfo,
    RunResult,
    StageInfo,
    StageResult,
)

DURATION_S = 10.0


def op_stats(latencies_ms: np.ndarray, errors: int = 0) -> OpStats:
    """An operation with these latencies, of which `errors` ended in a 500."""
    h = new_histogram()
    record_values(h, np.round(np.asarray(latencies_ms) * 1000).astype(np.int64))
    n = len(latencies_ms)
    outcomes = {"ok:200": n - errors}
    if errors:
        outcomes["status:500"] = errors
    return OpStats.build(outcomes, sent=100 * n, received=200 * n, h=h)


def merged(ops: Mapping[str, tuple[np.ndarray, int]]) -> OpStats:
    """Every operation together."""
    latencies = np.concatenate([lat for lat, _ in ops.values()])
    return op_stats(latencies, sum(errors for _, errors in ops.values()))


def make_result(
    run_id: str,
    ops: Mapping[str, tuple[np.ndarray, int]],
    *,
    scenario: str = "shop",
    started_at: float = 1_763_600_000.0,
    complete: bool = True,
) -> RunResult:
    """A one-stage run: per operation, its latencies (ms) and error count."""
    operations = {name: op_stats(lat, errors) for name, (lat, errors) in ops.items()}
    total = merged(ops)
    stage = StageResult(
        info=StageInfo("steady", 0, {"model": "closed", "users": 5}, DURATION_S, 0.0),
        ran=True,
        started_at=started_at,
        ended_at=started_at + DURATION_S,
        operations=operations,
        total=total,
    )
    info = RunInfo(
        run_id=run_id,
        scenario=scenario,
        source=f"{scenario}.yaml",
        source_sha256="0" * 64,
        target="http://127.0.0.1:8000",
        command=["loadlens", "run", f"{scenario}.yaml"],
        workers=1,
        hostname="test",
        loadlens_version="0.1.0",
        python_version="3.11",
        started_at=started_at,
        ended_at=started_at + DURATION_S,
    )
    return RunResult(
        run=info,
        complete=complete,
        interrupted=False,
        stages=[stage],
        operations=operations,
        total=total,
        series=[],
        health=HealthSummary(),
    )


def lognormal(median_ms: float, n: int, seed: int) -> np.ndarray:
    """Latencies around a median, with a realistic right tail."""
    return np.random.default_rng(seed).lognormal(np.log(median_ms), 0.3, n)
