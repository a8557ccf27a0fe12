"""Sample stages, run info and frames shared by the metrics tests."""

from __future__ import annotations

import numpy as np

from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import encode_histogram, new_histogram, record_values
from loadlens.metrics.result import RunInfo, StageInfo

STAGES = [
    StageInfo("warm", 0, {"model": "closed", "users": 2, "start_users": 0}, 3.0, 0.0),
    StageInfo("peak", 1, {"model": "open", "rate": 100.0}, 3.0, 0.0),
]
RUN = RunInfo(
    run_id="r1",
    scenario="demo",
    source="demo.yaml",
    source_sha256="0" * 64,
    target="http://127.0.0.1:8000",
    command=["loadlens", "run", "demo.yaml"],
    workers=2,
    hostname="box",
    loadlens_version="0.1.0",
    python_version="3.11.9",
    started_at=1000.0,
)


def histogram(values: list[int]) -> str:
    h = new_histogram()
    record_values(h, np.array(values, dtype=np.int64))
    return encode_histogram(h)


def frame(worker: int, second: int, values: list[int], *, stage: int = 0, errors: int = 0) -> Frame:
    outcomes = {"ok": len(values) - errors}
    if errors:
        outcomes["status:500"] = errors
    return Frame(
        worker=worker,
        stage=stage,
        second=second,
        time=1000.0 + second + 1,
        ops={"get": OpFrame(histogram(values), outcomes, 10 * len(values), 100 * len(values))},
        health=Health(cpu_percent=30.0 + worker, loop_lag_ms=second, in_flight=2, late=1),
    )
