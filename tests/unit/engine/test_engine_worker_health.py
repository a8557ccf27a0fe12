"""The worker's per-second lateness p99: numpy's partition gives what sorting gave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadlens.engine.worker import _p99_ms


@given(st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=3000))
def test_the_p99_is_the_value_at_rank_99_percent_of_the_sorted_lateness(values: list[int]) -> None:
    ranked = sorted(values)
    assert _p99_ms(values) == ranked[min(len(values) - 1, int(len(values) * 0.99))] / 1e6


def test_a_second_without_arrivals_has_no_lateness() -> None:
    assert _p99_ms([]) == 0.0
