"""E-divisive means with a t-test: steps are found where they are, flat series have none."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadlens.analysis.changepoints import detect, student_t_sf2, welch_pvalue


def test_a_step_is_found_at_the_run_where_it_happens() -> None:
    rng = np.random.default_rng(7)
    series = np.r_[rng.normal(100, 3, 40), rng.normal(138, 3, 25)]
    [point] = detect(series)
    assert point.index == 40
    assert point.mean_before == pytest.approx(100, abs=2)
    assert point.mean_after == pytest.approx(138, abs=2)
    assert point.relative_change == pytest.approx(0.38, abs=0.03)
    assert point.pvalue < 1e-10


def test_two_steps_are_both_found() -> None:
    rng = np.random.default_rng(3)
    series = np.r_[rng.normal(50, 2, 20), rng.normal(70, 2, 15), rng.normal(55, 2, 20)]
    assert [p.index for p in detect(series)] == [20, 35]


def test_a_step_down_has_a_negative_change() -> None:
    series = [10.0, 10.2, 9.9, 10.1, 10.0, 10.1, 5.0, 5.1, 4.9, 5.0, 5.2, 5.1]
    [point] = detect(series)
    assert point.index == 6
    assert point.relative_change == pytest.approx(-0.5, abs=0.02)


def test_a_flat_noisy_series_has_no_change_point() -> None:
    rng = np.random.default_rng(12345)
    for _ in range(10):
        assert detect(rng.normal(100, 5, 60)) == []


def test_a_short_series_has_none() -> None:
    assert detect([1.0, 100.0, 1.0, 100.0, 1.0]) == []


def test_min_size_keeps_steps_away_from_the_edges() -> None:
    series = [10.0] * 20 + [30.0, 30.0]
    assert detect(series, min_size=3) == []
    assert [p.index for p in detect(series, min_size=2)] == [20]


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.integers(min_value=0, max_value=80),
)
def test_a_constant_series_has_no_change_point(value: float, n: int) -> None:
    assert detect([value] * n) == []


def test_the_t_distribution_matches_known_values() -> None:
    assert student_t_sf2(2.0, 10) == pytest.approx(0.07339, abs=1e-5)
    assert student_t_sf2(2.228, 10) == pytest.approx(0.05, abs=1e-4)
    assert student_t_sf2(0.0, 5) == 1.0


def test_welch_on_identical_samples_is_not_significant() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert welch_pvalue(a, a.copy()) == pytest.approx(1.0)
