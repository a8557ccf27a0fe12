"""The threshold language: parsing, canonical text, errors with columns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadlens.model.threshold import (
    Comparison,
    Metric,
    Threshold,
    ThresholdSyntaxError,
    parse_threshold,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p95 < 200ms", Threshold(Metric.PERCENTILE, Comparison.LT, 200.0, percentile=95.0)),
        ("p99.9 <= 2s", Threshold(Metric.PERCENTILE, Comparison.LE, 2000.0, percentile=99.9)),
        ("p50 < 500us", Threshold(Metric.PERCENTILE, Comparison.LT, 0.5, percentile=50.0)),
        ("avg < 20", Threshold(Metric.AVG, Comparison.LT, 20.0)),
        ("error_rate < 0.1%", Threshold(Metric.ERROR_RATE, Comparison.LT, 0.001)),
        ("error_rate < 0.01", Threshold(Metric.ERROR_RATE, Comparison.LT, 0.01)),
        (
            "error_rate(exclude=429) < 1%",
            Threshold(Metric.ERROR_RATE, Comparison.LT, 0.01, selector="exclude=429"),
        ),
        (
            "rate(status=409) between 85% and 95%",
            Threshold(Metric.RATE, Comparison.BETWEEN, 0.85, 0.95, selector="status=409"),
        ),
        ("rps >= 100/s", Threshold(Metric.RPS, Comparison.GE, 100.0)),
        ("dropped == 0", Threshold(Metric.DROPPED, Comparison.EQ, 0.0)),
        (
            "p95{op:read} < 20ms",
            Threshold(
                Metric.PERCENTILE, Comparison.LT, 20.0, percentile=95.0, filters=(("op", "read"),)
            ),
        ),
        (
            "p99 < 1s over 30s abort after 10s",
            Threshold(
                Metric.PERCENTILE,
                Comparison.LT,
                1000.0,
                percentile=99.0,
                window_s=30.0,
                abort=True,
                abort_after_s=10.0,
            ),
        ),
        (
            "cache_hit_rate > 90%",
            Threshold(Metric.OBSERVED, Comparison.GT, 0.9, selector="cache_hit_rate"),
        ),
    ],
)
def test_parses(text: str, expected: Threshold) -> None:
    parsed = parse_threshold(text)
    assert parsed == expected
    assert parsed.text == text
    assert parse_threshold(parsed.describe()) == parsed


def test_canonical_text() -> None:
    assert parse_threshold("p99<1s over 1m abort").describe() == "p99 < 1000ms over 60s abort"
    assert parse_threshold('p95{ op : "GET /u/{id}" } < 3').describe() == (
        'p95{op:"GET /u/{id}"} < 3ms'
    )


@pytest.mark.parametrize(
    ("percentile", "needed"), [("p50", 10), ("p95", 100), ("p99", 500), ("p99.9", 5000)]
)
def test_percentiles_need_enough_samples(percentile: str, needed: int) -> None:
    assert parse_threshold(f"{percentile} < 1s").min_samples == needed


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "empty threshold", 1),
        ("p9x < 1ms", "unknown metric `p9x`", 1),
        ("p100 < 1ms", "percentile `p100` must lie between p0 and p100", 1),
        ("p95 200ms", "expected a comparison", 5),
        ("p95 < fast", "expected a number, found `fast`", 7),
        ("p95 < 2kb", "unknown unit `kb`", 8),
        ("error_rate < 5ms", "a rate is a percentage", 14),
        ("error_rate < 150%", "a rate cannot exceed 100%", 14),
        ("rate < 1%", "expected `(`", 6),
        ("rate(stat=409) < 1%", "expected `status=`", 6),
        ("rate(status=40) < 1%", "`40` is not a status", 13),
        ("p95{opp:x} < 1ms", "expected a filter key", 5),
        ("count > 1.5", "expected a whole number", 9),
        ("rate(status=409) between 9% and 8%", "lower bound first", 18),
        ("p95 < 1ms over", "expected a number", 15),
        ("p95 < 1ms for 3s", "expected `over DURATION`, `abort` or the end", 11),
    ],
)
def test_errors_name_the_column(text: str, message: str, column: int) -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        parse_threshold(text)
    assert message in caught.value.message
    assert caught.value.column == column


def test_misspelt_metric_gets_a_hint() -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        parse_threshold("eror_rate(exclude=429) < 1%")
    assert caught.value.hint == "did you mean `error_rate`?"


def test_comparisons() -> None:
    between = parse_threshold("rate(status=4xx) between 10% and 20%")
    assert between.passes(0.1) and between.passes(0.2) and not between.passes(0.21)
    assert parse_threshold("rps > 10").passes(11) and not parse_threshold("rps > 10").passes(10)
    assert parse_threshold("late <= 3").passes(3) and parse_threshold("late == 0").passes(0)
    assert parse_threshold("max >= 1s").passes(1000.0)


_names = st.text("abcdefghijklmnopqrstuvwxyz_-/ ", min_size=1, max_size=8).filter(
    lambda s: s.strip() == s
)
_latency = st.floats(0, 1e6, allow_nan=False).map(lambda v: round(v, 3))
_fraction = st.floats(0, 1, allow_nan=False)


@st.composite
def thresholds(draw: st.DrawFn) -> Threshold:
    metric = draw(st.sampled_from(list(Metric)))
    percentile = selector = None
    if metric is Metric.PERCENTILE:
        percentile = draw(st.sampled_from([50.0, 75.0, 95.0, 99.0, 99.9, 99.99, 12.5]))
    if metric is Metric.RATE:
        selector = draw(
            st.sampled_from(["status=409", "status=4xx,503", "check=ok", "outcome=error:reset"])
        )
    if metric is Metric.ERROR_RATE:
        selector = draw(st.sampled_from(["", "exclude=429", "exclude=4xx,503"]))
    if metric is Metric.OBSERVED:
        selector = draw(st.sampled_from(["cache_hit_rate", "rss"]))
    if metric in (Metric.ERROR_RATE, Metric.RATE):
        values = _fraction
    elif metric in (Metric.COUNT, Metric.DROPPED, Metric.LATE):
        values = st.integers(0, 10**9).map(float)
    else:
        values = _latency
    op = draw(st.sampled_from(list(Comparison)))
    low = draw(values)
    high = None
    if op is Comparison.BETWEEN:
        high = draw(values.filter(lambda v: v >= low))
    filters = tuple(
        draw(st.lists(st.tuples(st.sampled_from(["op", "flow", "tag"]), _names), max_size=3))
    )
    abort = draw(st.booleans())
    return Threshold(
        metric,
        op,
        low,
        high,
        percentile=percentile,
        selector=selector or "",
        filters=filters,
        window_s=draw(st.none() | st.integers(1, 600).map(float)),
        abort=abort,
        abort_after_s=draw(st.integers(0, 60).map(float)) if abort else 5.0,
    )


@given(thresholds())
def test_describe_round_trips(threshold: Threshold) -> None:
    assert parse_threshold(threshold.describe()) == threshold
