"""Judging gates on hand-built stage results: every metric, filter and comparison."""

from __future__ import annotations

import dataclasses

import pytest

from loadlens.analysis.gates import describe_result, evaluate_stage
from loadlens.analysis.windows import WindowTracker
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Health
from loadlens.model.threshold import Threshold, parse_threshold
from loadlens.model.verdict import GateStatus
from tests.unit.analysis.gate_samples import frame, op_stats
from tests.unit.metrics.metrics_samples import STAGES

# 100 reads at 1..100 ms; 200 writes at 50 ms, 20 of them 409 (expected) and 10 of them 500.
OPS = {
    "read": op_stats([float(v) for v in range(1, 101)]),
    "create": op_stats([50.0] * 200, {"ok:201": 170, "ok:409": 20, "status:500": 10}),
}
WRITES = frozenset({"create"})


def gate(text: str, operations: frozenset[str] | None = None) -> Threshold:
    return dataclasses.replace(parse_threshold(text), operations=operations)


def judge(text: str, operations: frozenset[str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    health = kwargs.get("health", Health(late=3, dropped=0))
    assert isinstance(health, Health)
    return evaluate_stage(gate(text, operations), OPS, 10.0, health, stage="load")


@pytest.mark.parametrize(
    ("text", "operations", "measured", "samples", "status"),
    [
        ("p95 < 90ms", None, 85.0, 300, GateStatus.PASSED),
        ("p99 < 99ms", frozenset({"read"}), 99.0, 100, GateStatus.INSUFFICIENT),
        ("p50 < 50ms", frozenset({"read"}), 50.0, 100, GateStatus.FAILED),
        ("p50 <= 50.1ms", frozenset({"read"}), 50.0, 100, GateStatus.PASSED),
        ("max < 100ms", frozenset({"read"}), 100.0, 100, GateStatus.FAILED),
        ("min >= 1ms", None, 1.0, 300, GateStatus.PASSED),
        ("avg between 40ms and 60ms", WRITES, 50.0, 200, GateStatus.PASSED),
        ("error_rate < 1%", WRITES, 10 / 200, 200, GateStatus.FAILED),
        ("error_rate < 10%", None, 10 / 300, 300, GateStatus.PASSED),
        ("error_rate(exclude=5xx) == 0", WRITES, 0.0, 190, GateStatus.PASSED),
        ("rate(status=409) between 9% and 11%", WRITES, 0.1, 200, GateStatus.PASSED),
        ("rate(status=4xx,5xx) > 20%", WRITES, 0.15, 200, GateStatus.FAILED),
        ("rate(outcome=status) < 1%", None, 10 / 300, 300, GateStatus.FAILED),
        ("rps >= 30", None, 30.0, 300, GateStatus.PASSED),
        ("rps > 30", None, 30.0, 300, GateStatus.FAILED),
        ("count == 100", frozenset({"read"}), 100.0, 100, GateStatus.PASSED),
        ("late < 3", None, 3.0, 300, GateStatus.FAILED),
        ("dropped == 0", None, 0.0, 300, GateStatus.PASSED),
        ("cache_hit_rate > 90%", None, None, 0, GateStatus.NOT_AVAILABLE),
    ],
)
def test_metrics(
    text: str,
    operations: frozenset[str] | None,
    measured: float | None,
    samples: int,
    status: GateStatus,
) -> None:
    result = judge(text, operations)
    assert result.status is status
    assert result.samples == samples
    if measured is None:
        assert result.measured is None
    else:
        assert result.measured == pytest.approx(measured, rel=1e-3)


def test_percentiles_come_from_the_merged_histogram() -> None:
    # Averaging the two operations' p50 (50.0 and 50) would give 50; the merge knows 2/3
    # of requests are writes at 50 ms and the reads spread 1..100 ms.
    p90 = judge("p90 < 1s").measured
    assert p90 == pytest.approx(70.0, abs=0.1)
    assert judge("p75 < 1s").measured == pytest.approx(50.0, abs=0.1)


def test_check_rate_counts_requests_whose_checks_ran() -> None:
    ops = {"login": op_stats([5.0] * 100, {"ok:200": 90, "check_failed:token": 6, "status:500": 4})}
    result = evaluate_stage(gate("rate(check=token) >= 95%"), ops, 10.0)
    assert result.samples == 96 and result.measured == pytest.approx(90 / 96)
    assert result.status is GateStatus.FAILED


def test_a_rate_is_judged_on_however_few_requests_were_sent() -> None:
    # a smoke run without percentile gates is never INCONCLUSIVE for its sample count
    ops = {"x": op_stats([5.0] * 19, {"ok:200": 10, "status:500": 9})}
    result = evaluate_stage(gate("error_rate < 1%"), ops, 1.0)
    assert result.status is GateStatus.FAILED and result.required == 1
    clean = evaluate_stage(gate("error_rate < 1%"), {"x": op_stats([5.0] * 3)}, 1.0)
    assert clean.status is GateStatus.PASSED
    nothing = evaluate_stage(gate("error_rate < 1%"), {}, 1.0)
    assert nothing.status is GateStatus.INSUFFICIENT


def test_p99_on_40_samples_is_insufficient() -> None:
    # none of 40 over 10 ms bounds the share over it only under 6.3 %, not under 1 %
    ops = {"x": op_stats([5.0] * 40)}
    result = evaluate_stage(gate("p99 < 10ms"), ops, 1.0, stage="smoke")
    assert result.status is GateStatus.INSUFFICIENT and (result.samples, result.required) == (
        40,
        500,
    )
    assert describe_result(result) == (
        "stage `smoke`: p99 < 10ms could not be judged: 40 samples, 500 needed"
    )


def test_a_percentile_on_few_samples_is_judged_when_the_answer_is_already_clear() -> None:
    # every one of 40 over 1 ms: more than 1 % are over it, with 95 % confidence
    assert evaluate_stage(gate("p99 < 1ms"), {"x": op_stats([5.0] * 40)}, 1.0).status is (
        GateStatus.FAILED
    )
    # none of 60 over 50 ms: fewer than 5 % are (the Wilson bound is 4.3 %)
    assert evaluate_stage(gate("p95 < 50ms"), {"x": op_stats([5.0] * 60)}, 1.0).status is (
        GateStatus.PASSED
    )
    # none of 40: the bound (6.3 %) does not exclude 5 %, so it waits for more samples
    assert evaluate_stage(gate("p95 < 50ms"), {"x": op_stats([5.0] * 40)}, 1.0).status is (
        GateStatus.INSUFFICIENT
    )


def test_failed_gate_reads_plainly() -> None:
    result = judge("p95{op:read} < 20ms", frozenset({"read"}))
    assert describe_result(result) == (
        "stage `load`: p95{op:read} < 20ms failed: measured 95.0 ms (100 samples)"
    )


def _tracker_with_late_spike() -> WindowTracker:
    tracker = WindowTracker(max_window_s=10)
    for second in range(400):
        slow = second >= 390
        tracker.add_frame(frame(second, {"get": [200.0 if slow else 10.0] * 20}))
    return tracker


def test_a_spike_in_the_last_seconds_fails_the_window_but_not_the_stage() -> None:
    tracker = _tracker_with_late_spike()
    windowed = gate("p95 < 100ms over 10s")
    whole = gate("p95 < 100ms")
    assert tracker.evaluate(windowed, 0, 399).status is GateStatus.FAILED
    assert tracker.evaluate(windowed, 0, 380).status is GateStatus.INSUFFICIENT  # dropped: too old
    assert tracker.evaluate(whole, 0, 399).status is GateStatus.PASSED
    assert tracker.evaluate(whole, 0, 399).samples == 8000


def test_windows_keep_bounded_memory() -> None:
    tracker = _tracker_with_late_spike()
    assert tracker.retained_histograms <= 10 + 3 + 1


def test_window_counts_rate_over_its_span() -> None:
    tracker = WindowTracker(max_window_s=5)
    for second in range(10):
        tracker.add_frame(frame(second, {"get": [1.0] * 10, "put": [1.0] * 30}, errors=1))
        tracker.add_frame(frame(second, {"get": [1.0] * 10}, worker=1, late=2))
    rps = tracker.evaluate(gate("rps >= 20 over 5s", frozenset({"get"})), 0, 9)
    assert rps.measured == 20.0 and rps.window_s == 5.0 and rps.at_second == 9
    errors = tracker.evaluate(gate("error_rate < 5% over 5s", frozenset({"put"})), 0, 9)
    assert errors.measured == pytest.approx(1 / 30) and errors.status is GateStatus.PASSED
    late = tracker.evaluate(gate("late < 10 over 5s"), 0, 9)
    assert late.measured == 10.0 and late.status is GateStatus.FAILED


def test_windows_take_the_histograms_the_accumulator_decoded() -> None:
    # The coordinator decodes each frame once: the accumulator hands its histograms on.
    accumulator = RunAccumulator(["get"], STAGES)
    shared, alone = WindowTracker(max_window_s=5), WindowTracker(max_window_s=5)
    for second in range(8):
        sent = frame(second, {"get": [float(second + 1)] * 10 + [90.0]})
        histograms = accumulator.add(sent)
        assert set(histograms) == {"get"} and histograms["get"].get_total_count() == 11
        shared.add_frame(sent, histograms)
        alone.add_frame(sent)
        # read only: the accumulator's own totals are not changed by the tracker's merge
        assert histograms["get"].get_total_count() == 11
    for text in ("p50 < 5ms over 5s", "p99 < 50ms over 5s", "p95 < 100ms"):
        assert shared.evaluate(gate(text), 0, 7) == alone.evaluate(gate(text), 0, 7)
    assert shared.evaluate(gate("p50 < 5ms over 5s"), 0, 7).measured == pytest.approx(6.0, rel=0.01)
    assert accumulator.stage_ops(0)["get"].count == 88
