"""OpStats and frames built from known latencies, shared by the gate tests."""

from __future__ import annotations

import numpy as np

from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import encode_histogram, new_histogram, record_values
from loadlens.metrics.result import OpStats


def op_stats(latencies_ms: list[float], outcomes: dict[str, int] | None = None) -> OpStats:
    """An operation whose requests took `latencies_ms`; all `ok:200` unless told."""
    h = new_histogram()
    record_values(h, np.array([round(v * 1000) for v in latencies_ms], dtype=np.int64))
    return OpStats.build(outcomes or {"ok:200": len(latencies_ms)}, 0, 0, h)


def frame(
    second: int,
    ops: dict[str, list[float]],
    *,
    stage: int = 0,
    worker: int = 0,
    late: int = 0,
    errors: int = 0,
) -> Frame:
    """One worker's second: each operation's latencies in ms, the first `errors` of each 500."""
    op_frames = {}
    for name, values in ops.items():
        h = new_histogram()
        record_values(h, np.array([round(v * 1000) for v in values], dtype=np.int64))
        outcomes = {"ok:200": len(values) - errors}
        if errors:
            outcomes["status:500"] = errors
        op_frames[name] = OpFrame(encode_histogram(h), outcomes)
    return Frame(worker, stage, second, 1000.0 + second, op_frames, Health(late=late))
