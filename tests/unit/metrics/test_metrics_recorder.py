"""The worker-side recorder: exact counts, resets, omitted ops, HDR-precise percentiles."""

from __future__ import annotations

import pickle

import numpy as np

from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.histogram import FOLD_EVERY, HIGHEST_US, LatencySummary, decode_histogram
from loadlens.metrics.recorder import Recorder


def _take(recorder: Recorder, second: int = 0, *, final: bool = False) -> Frame:
    return recorder.take_frame(worker=1, stage=0, second=second, health=Health(), final=final)


def test_counts_outcomes_and_bytes_are_exact() -> None:
    recorder = Recorder(["login", "search"], clock=lambda: 1234.5)
    for _ in range(3):
        recorder.record(0, 1500, "ok", 100, 2000)
    recorder.record(0, 900, "status:404", 100, 50)
    recorder.count(0, "missing_variable:id")
    recorder.record(1, 700, "error:reset", 80, 0)

    frame = _take(recorder)

    assert frame.time == 1234.5
    login = frame.ops["login"]
    assert login.outcomes == {"ok": 3, "status:404": 1, "missing_variable:id": 1}
    assert (login.bytes_sent, login.bytes_received) == (400, 6050)
    assert decode_histogram(login.histogram).get_total_count() == 4
    assert frame.ops["search"].outcomes == {"error:reset": 1}


def test_take_frame_resets_and_omits_empty_ops() -> None:
    recorder = Recorder(["a", "b", "c"])
    recorder.record(1, 10, "ok", 1, 1)
    assert list(_take(recorder).ops) == ["b"]
    assert _take(recorder, 1).ops == {}
    recorder.count(2, "cancelled")
    frame = _take(recorder, 2, final=True)
    assert list(frame.ops) == ["c"]
    assert frame.ops["c"].histogram == ""  # an outcome without latency has no histogram
    assert frame.final


def test_percentiles_are_within_hdr_precision_of_numpy() -> None:
    rng = np.random.default_rng(11)
    values = (rng.lognormal(9, 1.2, 50_000) + 1).astype(np.int64)
    recorder = Recorder(["op"])
    for v in values.tolist():
        recorder.record(0, v, "ok", 0, 0)
    summary = LatencySummary.of(decode_histogram(_take(recorder).ops["op"].histogram))
    assert summary.count == values.size
    for got, pct in ((summary.p50, 50), (summary.p95, 95), (summary.p99, 99)):
        expected = float(np.percentile(values, pct, method="inverted_cdf")) / 1000
        assert abs(got - expected) <= expected * 1e-3 + 0.001  # 3 significant digits


def test_values_above_the_range_are_clamped_and_counted() -> None:
    recorder = Recorder(["op"])
    recorder.record(0, HIGHEST_US * 2, "ok", 0, 0)
    recorder.record(0, 5, "ok", 0, 0)
    summary = LatencySummary.of(decode_histogram(_take(recorder).ops["op"].histogram))
    assert summary.count == 2
    assert summary.max >= HIGHEST_US / 1000
    assert recorder.clamped == 1


def test_frames_survive_pickle_and_json_lines() -> None:
    recorder = Recorder(["op"])
    recorder.record(0, 1000, "ok", 10, 20)
    frame = recorder.take_frame(0, 2, 7, Health(cpu_percent=12.5, late=3), final=True)
    assert pickle.loads(pickle.dumps(frame)) == frame
    line = frame.to_json_line()
    assert line.endswith("\n") and "\n" not in line[:-1]
    assert Frame.from_json_line(line) == frame


def test_latencies_past_a_fold_land_in_the_frame_once_each() -> None:
    recorder = Recorder(["get"], clock=lambda: 0.0)
    latencies = [1 + i % 2000 for i in range(2 * FOLD_EVERY + 7)]  # exact in HDR below 2048
    for latency in latencies:
        recorder.record(0, latency, "ok:200", 10, 20)
    frame = recorder.take_frame(0, 0, 0, Health())
    summary = LatencySummary.of(decode_histogram(frame.ops["get"].histogram))
    assert summary.count == len(latencies)
    assert summary.max == max(latencies) / 1000
    assert frame.ops["get"].bytes_sent == 10 * len(latencies)
    empty = recorder.take_frame(0, 0, 1, Health())
    assert empty.ops == {}  # nothing carried over into the next second


def test_bytes_decoded_are_counted_per_operation_and_reset_with_the_frame() -> None:
    recorder = Recorder(["get", "put"])
    recorder.decoded(0, 700)
    recorder.record(0, 1500, "ok:200", 100, 300)
    recorder.decoded(0, 800)
    recorder.record(0, 1500, "ok:200", 100, 320)
    recorder.record(1, 1500, "ok:200", 100, 300)
    frame = _take(recorder)
    assert (frame.ops["get"].bytes_decoded, frame.ops["put"].bytes_decoded) == (1500, 0)
    recorder.record(0, 1500, "ok:200", 100, 300)
    assert _take(recorder, 1).ops["get"].bytes_decoded == 0


def test_record_response_with_integer_instants_gives_the_frame_record_gives() -> None:
    # The engine hands the instants as integers (`record_response`); a caller with the
    # instants tuple uses `record`. The same requests must make the same frame, byte for byte.
    by_tuple = Recorder(["get"], clock=lambda: 1.0)
    by_ints = Recorder(["get"], clock=lambda: 1.0)
    rng = np.random.default_rng(7)
    for i in range(3 * FOLD_EVERY // 2):  # past a fold, so the histograms are compared too
        start = int(rng.integers(10**12, 10**13))
        connected = start + int(rng.integers(0, 50_000)) * (i % 3 == 0)
        sent = connected + int(rng.integers(1_000, 9_000))
        first = sent + int(rng.integers(10_000, 5_000_000))
        end = first + int(rng.integers(100, 90_000))
        reused = i % 3 != 0
        outcome = "ok:200" if i % 11 else "status:503"
        latency_us = (end - start) // 1000 or 1
        features = ("q:page",) if i % 2 else ()
        sent_bytes, received = 80 + i % 5, 150 + 1000 * (i % 4)
        wanted = by_tuple.record(
            0,
            latency_us,
            outcome,
            sent_bytes,
            received,
            features,
            (start, connected, sent, first, end, reused),
        )
        assert wanted == by_ints.record_response(
            0, latency_us, outcome, sent_bytes, received, features,
            start, connected, sent, first, end, reused,
        )  # fmt: skip
    one, other = _take(by_tuple).to_dict(), _take(by_ints).to_dict()
    assert one == other
    diagnostics = one["ops"]["get"]["diagnostics"]
    assert diagnostics["phases"]["responses"] == 3 * FOLD_EVERY // 2
    assert diagnostics["phases"]["new_connections"] == FOLD_EVERY // 2
