"""Each worker's share of a counted stage: exact, whatever the number of workers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadlens.engine.schedule import ArrivalSchedule
from loadlens.engine.stages import describe, share_of
from loadlens.model.plan import ClosedLoad, OpenLoad, Stage


@given(st.integers(1, 50), st.integers(1, 10_000), st.integers(1, 16))
def test_shared_iterations_split_exactly_in_proportion_to_users(
    users: int, iterations: int, workers: int
) -> None:
    stage = Stage("s", ClosedLoad(users, iterations=iterations), duration=60.0)
    shares = [share_of(stage, None, w, workers) for w in range(workers)]
    assert sum(share.iterations for share in shares) == iterations
    assert sum(share.users for share in shares) == users
    for share in shares:
        assert share.counted
        if share.users == 0:
            assert share.iterations == 0  # nobody there to run them
        else:
            assert abs(share.iterations - iterations * share.users / users) < 1


def test_per_user_iterations_go_to_every_worker() -> None:
    stage = Stage("s", ClosedLoad(3, per_user=7), duration=60.0)
    shares = [share_of(stage, None, w, 2) for w in range(2)]
    assert [(s.users, s.per_user, s.counted) for s in shares] == [(2, 7, True), (1, 7, True)]
    assert describe(stage, None)["per_user"] == 7


@given(st.integers(1, 5_000), st.integers(1, 8), st.floats(10.0, 5_000.0))
def test_open_arrivals_split_exactly_as_they_interleave(
    iterations: int, workers: int, rate: float
) -> None:
    stage = Stage("s", OpenLoad(rate, iterations=iterations), duration=600.0)
    total = 0
    for worker in range(workers):
        share = share_of(stage, None, worker, workers)
        schedule = ArrivalSchedule(
            share.rate_start, share.rate, 0.0, stage.length, worker / workers, share.iterations
        )
        total += schedule.expected_arrivals()
    assert total == iterations  # 600 s at >= 10/s hold more than the count


def test_a_time_limit_shorter_than_the_count_ends_the_schedule() -> None:
    schedule = ArrivalSchedule(100.0, 100.0, 0.0, 2.0, 0.0, limit=1_000)
    assert schedule.expected_arrivals() == 200
    assert ArrivalSchedule(100.0, 100.0, 0.0, 2.0, 0.0, limit=50).expected_arrivals() == 50
    assert ArrivalSchedule(100.0, 100.0, 0.0, 2.0, 0.0, limit=0).expected_arrivals() == 0


def test_uncounted_stages_stay_uncounted() -> None:
    share = share_of(Stage("s", ClosedLoad(4), duration=1.0), None, 0, 2)
    assert not share.counted and share.iterations == 0
    assert "iterations" not in describe(Stage("s", OpenLoad(5.0), duration=1.0), None)


@given(st.floats(0.5, 1_000_000.0), st.integers(1, 512))
def test_open_rates_sum_to_the_plan_s_whatever_the_worker_count(rate: float, workers: int) -> None:
    # A cluster has hundreds of workers, and the workers left after a loss share the next
    # stage: the cluster's total rate is the plan's either way.
    stage = Stage("s", OpenLoad(rate, start_rate=rate / 3), ramp=5.0, duration=60.0)
    shares = [share_of(stage, None, w, workers) for w in range(workers)]
    assert abs(sum(share.rate for share in shares) - rate) <= 1e-9 * rate
    assert abs(sum(share.rate_start for share in shares) - rate / 3) <= 1e-9 * rate
