"""Arrival schedules and user ramps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadlens.engine.schedule import ArrivalSchedule, UserRamp


def test_constant_rate_arrivals_are_evenly_spaced() -> None:
    schedule = ArrivalSchedule(start_rate=100, rate=100, ramp=0, length=2)
    assert schedule.expected_arrivals() == 200
    assert schedule.arrival_time(0) == 0
    assert schedule.arrival_time(1) == pytest.approx(0.01)
    assert schedule.arrival_time(199) == pytest.approx(1.99)
    assert [schedule.arrivals_by(t) for t in (0, 0.0099, 0.015, 1.985, 1.995, 5)] == [
        *(1, 1, 2, 199, 200, 200)
    ]


@given(r0=st.floats(0, 500), r1=st.floats(1, 500), ramp=st.floats(0.1, 10), hold=st.floats(0, 10))
def test_arrivals_follow_the_integral_of_the_rate(
    r0: float, r1: float, ramp: float, hold: float
) -> None:
    schedule = ArrivalSchedule(start_rate=r0, rate=r1, ramp=ramp, length=ramp + hold)
    total = schedule.expected_arrivals()
    times = [schedule.arrival_time(k) for k in range(0, total, max(1, total // 50))]
    assert times == sorted(times)
    assert all(0 <= t <= ramp + hold + 1e-6 for t in times)
    if total:
        # the last arrival is inside the stage, the next one is not
        assert schedule.arrival_time(total - 1) <= ramp + hold + 1e-6
        assert schedule.arrival_time(total) >= ramp + hold - 1e-6 or math.isinf(
            schedule.arrival_time(total)
        )


@given(
    r0=st.floats(0, 500),
    r1=st.floats(1, 500),
    ramp=st.one_of(st.just(0.0), st.floats(0.1, 10)),
    hold=st.floats(0.1, 10),
    phase=st.floats(0, 0.99),
)
def test_arrivals_by_counts_the_arrivals_due_so_far(
    r0: float, r1: float, ramp: float, hold: float, phase: float
) -> None:
    schedule = ArrivalSchedule(r0, r1, ramp, ramp + hold, phase)
    total = schedule.expected_arrivals()
    for k in range(0, total, max(1, total // 40)):
        t = schedule.arrival_time(k)
        # arrival k is the (k+1)-th due at its own time (float rounding: one either side)
        assert k <= schedule.arrivals_by(t + 1e-9) <= k + 2
        assert schedule.arrivals_by(t - 1e-6) <= k + 1
    assert schedule.arrivals_by(-1) == 0
    assert schedule.arrivals_by(ramp + hold + 100) == total


def test_a_ramp_from_zero_starts_slowly() -> None:
    schedule = ArrivalSchedule(start_rate=0, rate=100, ramp=10, length=10)
    assert schedule.expected_arrivals() == 500  # the area of the triangle
    first_second = sum(1 for k in range(500) if schedule.arrival_time(k) < 1)
    last_second = sum(1 for k in range(500) if schedule.arrival_time(k) >= 9)
    assert first_second == 5  # 100/10 · 1² / 2
    assert last_second == 95


@pytest.mark.parametrize("ramp", [5e-324, 1e-300, 1e-12])
@pytest.mark.parametrize("r0", [0.0, 50.0, 400.0])
def test_a_vanishing_ramp_is_the_constant_rate(ramp: float, r0: float) -> None:
    # The slope (r1 - r0) / ramp overflows to ±inf for the tiniest ramps: no NaN may come out.
    schedule = ArrivalSchedule(start_rate=r0, rate=100, ramp=ramp, length=ramp + 1)
    times = [schedule.arrival_time(k) for k in range(100)]
    assert times == pytest.approx([k / 100 for k in range(100)], abs=1e-9)


@given(r0=st.floats(1, 500), ramp=st.floats(0.01, 10), phase=st.floats(0, 0.99))
def test_a_ramp_down_to_zero_ends_its_arrivals_with_the_ramp(
    r0: float, ramp: float, phase: float
) -> None:
    schedule = ArrivalSchedule(start_rate=r0, rate=0, ramp=ramp, length=ramp + 5, phase=phase)
    total = schedule.expected_arrivals()
    times = [schedule.arrival_time(k) for k in range(total)]
    assert times == sorted(times)
    assert all(0 <= t <= ramp * (1 + 1e-9) for t in times)
    assert math.isinf(schedule.arrival_time(total + 1))


def test_user_ramp_interpolates_and_holds() -> None:
    ramp = UserRamp(start=0, end=10, ramp=10)
    assert [ramp.users_at(t) for t in (0, 2.5, 5, 10, 30)] == [0, 2, 5, 10, 10]
    assert UserRamp(start=5, end=1, ramp=4).users_at(2) == 3
    assert UserRamp(start=0, end=7, ramp=0).users_at(0) == 7
