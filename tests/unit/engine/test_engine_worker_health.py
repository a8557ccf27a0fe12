"""The worker's per-second lateness p99, read from the histogram its arrivals were folded into."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadlens.engine.worker import _p99_ms
from loadlens.metrics.histogram import BulkHistogram


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=10_000))
def test_the_p99_is_the_value_at_rank_99_percent_within_the_histograms_precision(
    values: list[int],
) -> None:
    lateness = BulkHistogram()
    lateness.values.extend(values)  # µs
    exact = sorted(values)[max(round(len(values) * 0.99), 1) - 1] / 1000  # ms
    # Three significant digits: the value reported is the top of its bucket, within 0.1 %.
    assert exact <= _p99_ms(lateness) <= exact * 1.001 + 0.001


def test_a_second_without_arrivals_has_no_lateness() -> None:
    assert _p99_ms(BulkHistogram()) == 0.0
