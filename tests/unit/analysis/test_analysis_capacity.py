"""Capacity search against simulated services: grow, bisect, confirm, and every way to stop."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loadlens.analysis.capacity import (
    CapacityOutcome,
    CapacityPlan,
    CapacitySearch,
    Probe,
    ProbeKind,
    StopReason,
    TableRow,
    parse_slo,
)

# A simulated service: (rate, kind) → (passed, measured). Deterministic, so runs are exact.
Service = Callable[[float, ProbeKind], tuple[bool, dict[str, float]]]


def threshold(capacity: float, *, confirm_capacity: float | None = None) -> Service:
    """Holds the SLO up to `capacity` req/s; long holds only up to `confirm_capacity`."""

    def service(rate: float, kind: ProbeKind) -> tuple[bool, dict[str, float]]:
        limit = capacity
        if kind is ProbeKind.CONFIRM and confirm_capacity is not None:
            limit = confirm_capacity
        passed = rate <= limit
        measured = {
            "p95_ms": 50.0 if passed else 900.0,
            "error_rate": 0.0 if passed else 0.2,
            "throughput": min(rate, limit),
            "concurrency": rate * (0.05 if passed else 0.9),
        }
        return passed, measured

    return service


def drive(plan: CapacityPlan, service: Service) -> CapacityOutcome:
    """What the engine does: ask, probe, record, with the clock advancing by each probe's cost."""
    search = CapacitySearch(plan)
    elapsed = 0.0
    while (step := search.next_rate(elapsed)) is not None:
        rate, kind = step
        passed, measured = service(rate, kind)
        reason = "SLO held" if passed else "p95 900ms > 200ms"
        search.record(Probe(rate, passed, measured, reason, kind))
        elapsed += plan.cost(kind)
    return search.outcome()


def test_finds_and_confirms_a_capacity_of_730() -> None:
    plan = CapacityPlan()
    outcome = drive(plan, threshold(730))
    assert outcome.capacity is not None
    assert 730 * (1 - plan.precision) <= outcome.capacity <= 730
    assert outcome.capacity == outcome.last_pass == 720
    assert outcome.first_fail == 740
    assert outcome.confirmed is True
    assert outcome.stopped_because is StopReason.CONVERGED
    assert [(p.rate, p.kind, p.passed) for p in outcome.probes] == [
        (10, "grow", True),
        (20, "grow", True),
        (40, "grow", True),
        (80, "grow", True),
        (160, "grow", True),
        (320, "grow", True),
        (640, "grow", True),
        (1280, "grow", False),
        (960, "bisect", False),
        (800, "bisect", False),
        (720, "bisect", True),
        (760, "bisect", False),
        (740, "bisect", False),
        (720, "confirm", True),
    ]


def test_probe_count_is_small() -> None:
    # Growing from 100 req/s: 4 grow + 5 bisect + 1 confirm. From the default 10 req/s it takes
    # three more grow steps (14 in all, above): each factor of 2 below capacity costs a probe.
    outcome = drive(CapacityPlan(start_rate=100), threshold(730))
    assert len(outcome.probes) <= 12
    assert outcome.confirmed is True


@pytest.mark.parametrize("capacity", [15.0, 99.0, 730.0, 4321.0, 77777.0])
def test_probe_count_is_bounded_by_growth_and_precision(capacity: float) -> None:
    plan = CapacityPlan(budget_s=1e6)
    outcome = drive(plan, threshold(capacity))
    grow = math.ceil(math.log(capacity / plan.start_rate, plan.growth)) + 1
    bisect = math.ceil(math.log2((plan.growth - 1) / plan.precision))
    assert len(outcome.probes) <= grow + bisect + 1


def test_failing_everything_never_passes() -> None:
    outcome = drive(CapacityPlan(start_rate=100), threshold(0.5))
    assert outcome.stopped_because is StopReason.NEVER_PASSED
    assert outcome.capacity is None
    assert outcome.last_pass is None
    assert outcome.first_fail == 6.25
    assert outcome.confirmed is None
    assert [p.rate for p in outcome.probes] == [100, 50, 25, 12.5, 6.25]


def test_a_first_failure_is_chased_down() -> None:
    plan = CapacityPlan(start_rate=100)
    outcome = drive(plan, threshold(30))
    assert outcome.stopped_because is StopReason.CONVERGED
    assert outcome.capacity is not None
    assert 30 * (1 - plan.precision) <= outcome.capacity <= 30
    assert outcome.confirmed is True


def test_budget_stops_with_the_best_answer_so_far() -> None:
    plan = CapacityPlan(budget_s=100)  # 7 probes of 13 s fit, the 8th would overrun
    outcome = drive(plan, threshold(730))
    assert outcome.stopped_because is StopReason.BUDGET
    assert len(outcome.probes) == 7
    assert outcome.capacity == 640
    assert outcome.first_fail is None
    assert outcome.confirmed is None


def test_budget_counts_the_confirmation_hold() -> None:
    plan = CapacityPlan(budget_s=13 * 13 + 29)  # every short probe fits, the 30 s hold does not
    outcome = drive(plan, threshold(730))
    assert outcome.stopped_because is StopReason.BUDGET
    assert outcome.capacity == 720
    assert outcome.confirmed is None
    assert all(p.kind is not ProbeKind.CONFIRM for p in outcome.probes)


def test_no_probe_fits_the_budget() -> None:
    outcome = drive(CapacityPlan(budget_s=12), threshold(730))
    assert outcome.stopped_because is StopReason.BUDGET
    assert outcome.probes == ()
    assert outcome.capacity is None


def test_a_failed_confirmation_leads_to_a_lower_confirmed_answer() -> None:
    plan = CapacityPlan()
    outcome = drive(plan, threshold(730, confirm_capacity=700))
    confirms = [(p.rate, p.passed) for p in outcome.probes if p.kind is ProbeKind.CONFIRM]
    assert confirms == [(720, False), (700, True)]
    assert outcome.capacity == 700
    assert outcome.first_fail == 720
    assert outcome.confirmed is True
    assert outcome.stopped_because is StopReason.CONVERGED


def test_a_failed_confirmation_out_of_budget_is_unconfirmed() -> None:
    plan = CapacityPlan(budget_s=13 * 13 + 30 + 13)  # room for one re-bisection, no 2nd hold
    outcome = drive(plan, threshold(730, confirm_capacity=700))
    assert outcome.stopped_because is StopReason.BUDGET
    assert outcome.capacity == 680
    assert outcome.confirmed is False


def test_max_rate_caps_the_search_and_is_confirmed() -> None:
    outcome = drive(CapacityPlan(max_rate=500), threshold(1e9))
    assert [p.rate for p in outcome.probes][-3:] == [320, 500, 500]
    assert outcome.probes[-1].kind is ProbeKind.CONFIRM
    assert outcome.capacity == 500
    assert outcome.confirmed is True
    assert outcome.stopped_because is StopReason.MAX_RATE


def test_a_noisy_pass_above_a_failure_does_not_raise_the_answer() -> None:
    search = CapacitySearch(CapacityPlan(start_rate=100))
    for passed in (True, False):  # 100 passes, 200 fails
        rate, kind = search.next_rate(0) or (0.0, ProbeKind.GROW)
        search.record(Probe(rate, passed, {}, "", kind))
    rate, kind = search.next_rate(0) or (0.0, ProbeKind.GROW)
    search.record(Probe(250, True, {}, "engine probed elsewhere", kind))
    assert search.outcome().capacity == 100
    assert search.outcome().first_fail == 200


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.floats(1, 1e5),
    start=st.floats(1, 100),
    precision=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_the_answer_is_within_precision_below_capacity(
    capacity: float, start: float, precision: float
) -> None:
    plan = CapacityPlan(start_rate=start, precision=precision, budget_s=1e6)
    outcome = drive(plan, threshold(capacity))
    if capacity < start / 16:
        assert outcome.stopped_because is StopReason.NEVER_PASSED
        return
    assert outcome.stopped_because is StopReason.CONVERGED
    assert outcome.capacity is not None
    assert capacity * (1 - precision) <= outcome.capacity <= capacity
    assert outcome.confirmed is True


@given(capacity=st.floats(1, 1e5), start=st.floats(1, 100))
def test_the_default_budget_covers_a_thousandfold_range(capacity: float, start: float) -> None:
    assume(capacity >= start)
    assume(capacity / start < 2**10)
    outcome = drive(CapacityPlan(start_rate=start), threshold(capacity))
    assert outcome.stopped_because is StopReason.CONVERGED


def test_usl_is_fitted_on_the_probes() -> None:
    def saturating(rate: float, kind: ProbeKind) -> tuple[bool, dict[str, float]]:
        n = rate / 50  # a closed pool: concurrency grows with the offered rate
        x = 100 * n / (1 + 0.05 * (n - 1) + 0.0005 * n * (n - 1))
        return rate <= 900, {"throughput": x, "concurrency": n}

    outcome = drive(CapacityPlan(start_rate=50), saturating)
    assert outcome.usl is not None
    assert outcome.usl.sigma == pytest.approx(0.05, rel=1e-3)
    assert outcome.usl.kappa == pytest.approx(0.0005, rel=1e-3)


def test_usl_needs_three_concurrency_levels() -> None:
    outcome = drive(CapacityPlan(start_rate=100), threshold(150))
    assert len({p.measured["concurrency"] for p in outcome.probes}) >= 3
    assert outcome.usl is not None
    few = drive(CapacityPlan(start_rate=100, budget_s=26), threshold(1e9))
    assert len(few.probes) == 2
    assert few.usl is None


def test_outcome_round_trips_through_json() -> None:
    outcome = drive(CapacityPlan(), threshold(730, confirm_capacity=700))
    data = json.loads(json.dumps(outcome.to_dict()))
    assert CapacityOutcome.from_dict(data) == outcome
    assert data["stopped_because"] == "converged"
    assert data["probes"][0]["kind"] == "grow"
    never = drive(CapacityPlan(start_rate=100), threshold(0.5))
    assert CapacityOutcome.from_dict(json.loads(json.dumps(never.to_dict()))) == never


def test_table_has_one_row_per_probe() -> None:
    outcome = drive(CapacityPlan(), threshold(730))
    rows = outcome.table()
    assert len(rows) == len(outcome.probes)
    assert rows[7] == TableRow(1280, "grow", False, 900.0, 0.2, 730, "p95 900ms > 200ms")
    bare = CapacitySearch(CapacityPlan())
    rate, kind = bare.next_rate(0) or (0.0, ProbeKind.GROW)
    bare.record(Probe(rate, True, {}, "", kind))
    assert bare.outcome().table()[0].p95_ms is None


def test_record_needs_the_probe_that_was_asked_for() -> None:
    search = CapacitySearch(CapacityPlan())
    with pytest.raises(ValueError, match="asked for"):
        search.record(Probe(10, True, {}, "", ProbeKind.GROW))
    search.next_rate(0)
    with pytest.raises(ValueError, match="expected a grow probe"):
        search.record(Probe(10, True, {}, "", ProbeKind.CONFIRM))


def test_next_rate_repeats_until_recorded_and_ends_for_good() -> None:
    search = CapacitySearch(CapacityPlan(budget_s=20))
    assert search.next_rate(0) == search.next_rate(5) == (10, ProbeKind.GROW)
    assert search.next_rate(10) is None
    assert search.next_rate(0) is None
    assert search.outcome().stopped_because is StopReason.BUDGET


def test_an_unfinished_search_has_no_stop_reason() -> None:
    search = CapacitySearch(CapacityPlan())
    search.next_rate(0)
    assert search.outcome().stopped_because is None


def test_bisection_rates_are_round_numbers() -> None:
    outcome = drive(CapacityPlan(start_rate=7), threshold(5000))
    for probe in outcome.probes:
        if probe.kind is ProbeKind.BISECT:
            assert len(f"{probe.rate:g}".replace(".", "").strip("0")) <= 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_rate": 0}, "start_rate must be positive"),
        ({"growth": 1}, "growth must be greater than 1"),
        ({"precision": 0}, "precision must be between 0 and 1"),
        ({"budget_s": -1, "probe_s": 0}, "probe_s must be positive; budget_s must be positive"),
        ({"max_rate": 5}, "max_rate must be at least start_rate"),
    ],
)
def test_a_bad_plan_says_every_problem(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CapacityPlan(**kwargs)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("p95<200ms, error_rate<1%", ("p95<200ms", "error_rate<1%")),
        ("p95<200ms", ("p95<200ms",)),
        ("p95{op:login}<300ms, rate(x, y)<1 ,", ("p95{op:login}<300ms", "rate(x, y)<1")),
        ("  p99 < 1s ,, error_rate < 0.5% ", ("p99 < 1s", "error_rate < 0.5%")),
    ],
)
def test_parse_slo_splits_on_top_level_commas(text: str, parts: tuple[str, ...]) -> None:
    assert parse_slo(text) == parts


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), (" , ", "empty"), ("p95{a<1", "unclosed"), ("p95)<1", "unbalanced")],
)
def test_parse_slo_rejects_nonsense(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_slo(text)


_THRESHOLD = st.from_regex(r"[a-z0-9_<>%. ]*(\{[a-z0-9_:, ]*\})?[a-z0-9_<>%. ]*", fullmatch=True)


@given(st.lists(_THRESHOLD.filter(lambda s: s.strip()), min_size=1, max_size=5))
def test_parse_slo_inverts_joining(thresholds: list[str]) -> None:
    stripped = tuple(t.strip() for t in thresholds)
    assert parse_slo(", ".join(thresholds)) == stripped
