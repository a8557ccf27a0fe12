"""What the live outputs' tests feed an accumulator by hand: one-operation frames and a clock
the test moves."""

from __future__ import annotations

import numpy as np

from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import encode_histogram, new_histogram, record_values


class Clock:
    """A monotonic clock that stands still until the test sets `now`."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def one_op_frame(
    second: int,
    latencies_us: list[int],
    outcomes: dict[str, int],
    *,
    operation: str,
    health: Health,
) -> Frame:
    """Worker 0's frame of `second` for one operation: these latencies and outcomes, 100 bytes
    sent per request, 300 received."""
    h = new_histogram()
    record_values(h, np.array(latencies_us, dtype=np.int64))
    op = OpFrame(encode_histogram(h), outcomes, 100 * len(latencies_us), 300)
    return Frame(0, 0, second, 1000.0 + second, {operation: op}, health)
