"""The coordinator: frames from several workers merge into exact totals and a bounded series."""

from __future__ import annotations

import numpy as np
from metrics_samples import RUN, STAGES, frame, histogram

from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import (
    LatencySummary,
    merge_into,
    new_histogram,
    record_values,
)
from loadlens.metrics.series import LATE_WINDOW_S


def _values(worker: int, second: int) -> list[int]:
    return [1000 * (worker + 1) + 37 * i + 5 * second for i in range(50 + 10 * worker)]


def test_two_workers_three_seconds_merge_exactly() -> None:
    acc = RunAccumulator(["get"], STAGES)
    everything: list[int] = []
    for second in range(3):
        for worker in range(2):
            acc.add(frame(worker, second, _values(worker, second), errors=worker))
            everything += _values(worker, second)

    result = acc.result(run=RUN, complete=True)

    assert [(p.stage, p.second) for p in result.series] == [(0, 0), (0, 1), (0, 2)]
    for point in result.series:
        assert point.ops["get"].count == 50 + 60
        assert point.ops["get"].errors == 1
        assert point.workers == 2
        assert point.health.cpu_percent == 61.0
        assert point.health.in_flight == 4
    stage = result.stages[0]
    assert stage.ran and not result.stages[1].ran
    assert stage.total.count == len(everything) == 330
    assert stage.total.outcomes == {"ok": 327, "status:500": 3}
    assert stage.total.bytes_received == 100 * 330
    whole = new_histogram()
    record_values(whole, np.array(everything, dtype=np.int64))
    assert stage.operations["get"].latency == LatencySummary.of(whole)
    assert result.total.latency == LatencySummary.of(whole)
    assert result.health.late == 6
    assert result.health.max_cpu_percent == 31.0
    assert stage.started_at == 1000.0
    assert stage.ended_at == 1003.0


def test_series_percentiles_come_from_the_merged_histogram() -> None:
    acc = RunAccumulator(["get"], STAGES)
    acc.add(frame(0, 0, [1000] * 99))
    acc.add(frame(1, 0, [50_000] * 2))
    point = acc.result(run=RUN, complete=False).series[0]
    merged = new_histogram()
    for values in ([1000] * 99, [50_000] * 2):
        part = new_histogram()
        record_values(part, np.array(values, dtype=np.int64))
        merge_into(merged, part)
    assert point.ops["get"].p99 == LatencySummary.of(merged).p99 > 49.0
    assert point.ops["get"].samples == 101


def test_a_late_frame_for_an_older_second_still_merges() -> None:
    acc = RunAccumulator(["get"], STAGES)
    for second in range(3):
        acc.add(frame(0, second, [1000]))
    acc.add(frame(1, 0, [90_000] * 5))  # two seconds late
    first = acc.result(run=RUN, complete=True).series[0]
    assert first.ops["get"].count == 6
    assert first.ops["get"].p99 > 89.0


def test_a_frame_after_its_second_closed_adds_its_counts() -> None:
    acc = RunAccumulator(["get"], STAGES)
    for second in range(LATE_WINDOW_S + 3):
        acc.add(frame(0, second, [1000]))
    acc.add(frame(1, 0, [2000] * 4))
    result = acc.result(run=RUN, complete=True)
    assert result.series[0].ops["get"].count == 5
    assert result.series[0].total.samples == 5
    assert result.stages[0].total.count == LATE_WINDOW_S + 3 + 4


def test_memory_stays_bounded_over_ten_thousand_seconds() -> None:
    acc = RunAccumulator(["get"], STAGES)
    retained = set()
    text = histogram([1500, 2500])
    for second in range(10_000):
        for worker in range(2):
            frame = Frame(
                worker, 0, second, 1000.0 + second, {"get": OpFrame(text, {"ok": 2})}, Health()
            )
            acc.add(frame)
        if second > 10:
            retained.add(acc.retained_histograms)
    assert retained == {LATE_WINDOW_S + 1}
    result = acc.result(run=RUN, complete=True)
    assert len(result.series) == 10_000
    assert result.total.count == 40_000


def test_stage_ops_and_live_view() -> None:
    acc = RunAccumulator(["get", "post"], STAGES)
    for second in range(3):
        for worker in range(2):
            acc.add(frame(worker, second, [1000] * 10, stage=1, errors=1))
    acc.add(frame(0, 3, [1000] * 10, stage=1))  # worker 1 has not reported second 3 yet

    ops = acc.stage_ops(1)
    assert list(ops) == ["get"]
    assert ops["get"].count == 70
    assert acc.stage_ops(0) == {}

    live = acc.live_view(1, last_seconds=2)
    assert live.second == 2
    assert live.total.rps == 20.0
    assert live.ops["get"].count == 70
    assert live.ops["get"].error_rate == 6 / 70
    assert live.ops["get"].p50 == 1.0
    assert live.health.cpu_percent == 61.0


def test_unknown_stage_is_refused() -> None:
    acc = RunAccumulator(["get"], STAGES)
    try:
        acc.add(frame(0, 0, [1], stage=9))
    except ValueError as exc:
        assert "9" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_dispatch_lateness_merges_across_workers_and_seconds() -> None:
    acc = RunAccumulator(["get"], STAGES)
    lateness: list[int] = []
    for second in range(2):
        for worker in range(2):
            late_us = [20 + 7 * i + 300 * worker for i in range(40 + second)]
            sent = frame(worker, second, _values(worker, second), stage=1)
            sent.lateness = histogram(late_us)
            acc.add(sent)
            lateness += late_us
    acc.add(frame(0, 0, _values(0, 0)))  # a closed-model frame: no lateness
    whole = new_histogram()
    record_values(whole, np.array(lateness, dtype=np.int64))
    assert acc.result(run=RUN, complete=True).health.lateness == LatencySummary.of(whole)


def test_a_run_without_open_model_arrivals_has_no_lateness() -> None:
    acc = RunAccumulator(["get"], STAGES)
    acc.add(frame(0, 0, _values(0, 0)))
    assert acc.result(run=RUN, complete=True).health.lateness is None


def test_bytes_decoded_sum_across_workers_and_frames_without_them_read_as_zero() -> None:
    acc = RunAccumulator(["get"], STAGES)
    for worker in range(2):
        sample = frame(worker, 0, [1000, 2000])
        sample.ops["get"].bytes_decoded = 1000 * (worker + 1)
        acc.add(sample)
    older = frame(0, 1, [1000]).to_dict()
    del older["ops"]["get"]["bytes_decoded"]  # a frame written before the field
    acc.add(Frame.from_dict(older))
    result = acc.result(run=RUN, complete=True)
    assert result.stages[0].operations["get"].bytes_decoded == 3000
    assert result.total.bytes_decoded == 3000
    assert OpFrame.from_dict(older["ops"]["get"]).bytes_decoded == 0
