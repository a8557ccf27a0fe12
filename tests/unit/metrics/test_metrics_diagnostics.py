"""Diagnostics in the recorder, frames, the accumulator and the result: exact and bounded."""

from __future__ import annotations

import pickle

from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.diagnostics import (
    ERROR_TEMPLATES_PER_OP,
    FEATURES_PER_OP,
    SAMPLES_PER_OUTCOME,
    SLOW_SAMPLES,
    FeatureCounts,
    OpDiagnostics,
    RequestSample,
    bucket_latency_us,
)
from loadlens.metrics.feature_keys import REQUEST_SIZE_KEYS, RESPONSE_SIZE_KEYS, size_bucket
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.recorder import PhaseInstants, Recorder, latency_bucket
from loadlens.metrics.result import RunResult
from tests.unit.metrics.metrics_samples import RUN, STAGES


def _instants(*, reused: bool = False) -> PhaseInstants:
    """Instants of a response: connect 1 µs, send 2 µs, wait 10 ms, receive 1 µs."""
    return (0, 1_000, 3_000, 10_003_000, 10_004_000, reused)


def _sample(outcome: str, n: int = 0, latency_ms: float = 1.0) -> RequestSample:
    return RequestSample(outcome, "GET", f"/x?{n}", 400, latency_ms, "bad", {"id": "7"})


def _requested(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The counts without the size features every response has."""
    return {f: by for f, by in counts.items() if not f.startswith(("rq:", "rs:"))}


def _take(recorder: Recorder, worker: int = 0) -> Frame:
    return recorder.take_frame(worker, 0, 0, Health())


def test_interned_feature_tuples_expand_to_exact_per_feature_counts() -> None:
    recorder = Recorder(["history"])
    with_cursor = ("q:limit", "q:cursor")
    without = ("q:limit",)
    for _ in range(5):
        recorder.record(0, 10, "status:400", 1, 1, with_cursor, _instants())
    for _ in range(7):
        recorder.record(0, 10, "ok:200", 1, 1, without, _instants(reused=True))
    recorder.count(0, "error:reset", with_cursor)
    recorder.record(0, 10, "status:429", 1, 1, (*without, "h:retry-after"))
    diagnostics = _take(recorder).ops["history"].diagnostics
    assert diagnostics is not None
    assert _requested(diagnostics.features.counts) == {
        "q:limit": {"status:400": 5, "ok:200": 7, "error:reset": 1, "status:429": 1},
        "q:cursor": {"status:400": 5, "error:reset": 1},
        "h:retry-after": {"status:429": 1},
    }
    # every response has its size buckets (1 byte: bucket 0); transport errors have none
    assert diagnostics.features.counts["rq:0"] == {"status:400": 5, "ok:200": 7, "status:429": 1}
    # latencies per feature: the 10 µs requests, in their bucket; none for `error:reset`
    assert diagnostics.features.latency["q:cursor"] == {latency_bucket(10): 5}
    assert diagnostics.features.latency["q:limit"] == {latency_bucket(10): 13}
    assert diagnostics.headers == {"retry-after": 1}
    assert diagnostics.phases.to_dict() == {
        "responses": 12,
        "connect_us": 12,
        "send_us": 24,
        "wait_us": 120_000,
        "receive_us": 12,
        "new_connections": 5,
        "new_us": 5 * 10_004,
        "new_squares": 5 * 10_004**2,
        "reused_us": 7 * 10_004,
        "reused_squares": 7 * 10_004**2,
    }
    assert _take(recorder).ops == {}  # everything was taken


def test_samples_are_wanted_until_the_stage_has_enough_of_an_outcome() -> None:
    recorder = Recorder(["op"])
    for n in range(SAMPLES_PER_OUTCOME + 2):
        if recorder.record(0, 10, "status:400", 0, 0):
            recorder.sample(0, _sample("status:400", n))
    assert recorder.record(0, 10, "ok:200", 0, 0)
    # past the outcome's cap, a request is wanted as a slow example until SLOW_SAMPLES are
    # kept, then only when slower than all of them
    for n in range(SLOW_SAMPLES):
        assert recorder.record(0, 10 + n, "status:400", 0, 0)
        recorder.sample(0, _sample("status:400", n, latency_ms=(10 + n) / 1000))
    assert not recorder.record(0, 10, "status:400", 0, 0)
    assert recorder.record(0, 100, "status:400", 0, 0)
    first = _take(recorder).ops["op"].diagnostics
    assert first is not None and len(first.samples) == SAMPLES_PER_OUTCOME
    # the two past the cap in the first loop (1 ms) are the slowest
    assert [s.latency_ms for s in first.slow_samples] == [1.0, 1.0, 0.014, 0.013, 0.012]
    assert not recorder.record(0, 10, "status:400", 0, 0)  # the cap is per stage, not per frame


def test_template_and_feature_caps() -> None:
    recorder = Recorder(["op"])
    for n in range(ERROR_TEMPLATES_PER_OP + 3):
        recorder.error(0, "status:500", f"boom {n}")
    recorder.error(0, "status:500", "boom 0")
    for n in range(FEATURES_PER_OP + 4):
        recorder.record(0, 10, "ok:200", 0, 0, (f"q:k{n}",))
    diagnostics = _take(recorder).ops["op"].diagnostics
    assert diagnostics is not None
    templates = {t.template: t.count for t in diagnostics.templates}
    assert len(templates) == ERROR_TEMPLATES_PER_OP + 1
    assert templates["other"] == 3 and templates["boom 0"] == 2
    counts = diagnostics.features
    assert len(counts.counts) == FEATURES_PER_OP + 1
    assert "rq:0" in counts.counts and "rs:0" in counts.counts  # sizes come first: never dropped
    assert counts.counts["other"] == {"ok:200": 6} and counts.dropped_features == 6


def test_frames_round_trip_with_diagnostics() -> None:
    recorder = Recorder(["op"])
    recorder.record(0, 10, "status:400", 1, 1, ("q:cursor",), _instants())
    recorder.error(0, "status:400", "bad <n>")
    recorder.sample(0, _sample("status:400"))
    frame = _take(recorder)
    assert Frame.from_json_line(frame.to_json_line()) == frame
    assert pickle.loads(pickle.dumps(frame)) == frame
    plain = Recorder(["op"])
    plain.record(0, 10, "ok:200", 1, 1)
    bare = _take(plain)
    assert Frame.from_json_line(bare.to_json_line()) == bare
    plain.count(0, "error:reset")
    unanswered = _take(plain)
    assert unanswered.ops["op"].diagnostics is None
    assert "diagnostics" not in unanswered.ops["op"].to_dict()
    assert Frame.from_json_line(unanswered.to_json_line()) == unanswered


def test_two_workers_merge_into_the_stage_result() -> None:
    frames = []
    for worker in (1, 2):
        recorder = Recorder(["op"])
        for n in range(3):
            recorder.record(0, 10, "status:400", 1, 1, ("q:cursor",), _instants())
            recorder.sample(0, _sample("status:400", worker * 10 + n))
        recorder.record(0, 10, "ok:200", 1, 1, ("q:limit",), _instants())
        recorder.error(0, "status:400", "invalid cursor")
        recorder.error(0, "status:400", f"only worker {worker}")
        frames.append(_take(recorder, worker))
    accumulator = RunAccumulator(["op"], STAGES)
    for frame in frames:
        accumulator.add(frame)
    result = accumulator.result(run=RUN, complete=True)
    diagnostics = result.stages[0].diagnostics["op"]
    assert _requested(diagnostics.features.counts) == {
        "q:cursor": {"status:400": 6},
        "q:limit": {"ok:200": 2},
    }
    assert diagnostics.features.latency["q:cursor"] == {latency_bucket(10): 6}
    assert {(t.template, t.count) for t in diagnostics.templates} == {
        ("invalid cursor", 2),
        ("only worker 1", 1),
        ("only worker 2", 1),
    }
    assert [s.target for s in diagnostics.samples] == ["/x?10", "/x?11", "/x?12"]
    assert diagnostics.phases.responses == 8 and diagnostics.phases.new_connections == 8
    again = RunResult.from_dict(result.to_dict())
    assert again.stages[0].diagnostics == result.stages[0].diagnostics


def test_merging_respects_the_feature_cap() -> None:
    merged = OpDiagnostics()
    for part in range(3):
        counts = FeatureCounts()
        for n in range(100):
            counts.add(f"f{part}-{n}", "ok:200", 1)
        merged.merge(OpDiagnostics(features=counts))
    assert len(merged.features.counts) == FEATURES_PER_OP + 1
    assert merged.features.counts["other"] == {"ok:200": 100}
    assert merged.features.dropped_features == 100


def test_latency_buckets_are_within_an_eighth_of_an_octave() -> None:
    previous = -1
    for latency in [*range(1, 300), 1_000, 4_095, 4_096, 123_456, 3_600_000_000]:
        bucket = latency_bucket(latency)
        assert bucket >= previous  # monotone
        previous = bucket
        middle = bucket_latency_us(bucket)
        assert abs(middle - latency) <= latency / 16 + 0.5, (latency, bucket, middle)


def _reference_features(
    requests: list[tuple[int, str, int, int, tuple[str, ...]]],
) -> tuple[FeatureCounts, dict[str, int]]:
    """What a frame's features must be, counted the plain way (a dict per tally, looked up per
    request): sizes first in the order their pairs came, then the feature tuples."""
    sizes: dict[tuple[int, int], tuple[dict[str, int], dict[int, int]]] = {}
    tuples: dict[tuple[str, ...], tuple[dict[str, int], dict[int, int]]] = {}
    for latency_us, outcome, sent, received, features in requests:
        bucket = latency_bucket(latency_us)
        keys = [sizes.setdefault((size_bucket(sent), size_bucket(received)), ({}, {}))]
        if features:
            keys.append(tuples.setdefault(features, ({}, {})))
        for outcomes, latency in keys:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            latency[bucket] = latency.get(bucket, 0) + 1
    counts = FeatureCounts()
    headers: dict[str, int] = {}
    for (rq, rs), (outcomes, latency) in sizes.items():
        for feature in (REQUEST_SIZE_KEYS[rq], RESPONSE_SIZE_KEYS[rs]):
            for outcome, n in outcomes.items():
                counts.add(feature, outcome, n)
            counts.add_latency(feature, latency)
    for names, (outcomes, latency) in tuples.items():
        for feature in names:
            for outcome, n in outcomes.items():
                counts.add(feature, outcome, n)
                if feature.startswith("h:"):
                    headers[feature[2:]] = headers.get(feature[2:], 0) + n
            counts.add_latency(feature, latency)
    return counts, headers


def test_the_last_requests_tallies_reused_give_the_frame_plain_counting_gives() -> None:
    # The recorder reuses the last request's feature and size tallies (an `is` test, an int
    # compare) and counts the first outcome of a tally in a field: runs of alike requests hit
    # that fast path, interleaved ones, copied tuples and equal-but-distinct outcome strings
    # miss it. Frame after frame, the counts must be those of plain per-request dict counting.
    a, b = ("q:limit", "h:etag"), ("q:limit",)
    ok = "ok:200"
    not_interned = "".join(["ok", ":200"])
    rounds: list[list[tuple[int, str, int, int, tuple[str, ...]]]] = [
        [(10, ok, 100, 900, a)] * 50
        + [(3000, "status:503", 100, 40, a), (12, not_interned, 100, 900, a)]
        + [(20 + i, ok, 100, 900 + i * 400, b if i % 3 else a) for i in range(30)]
        + [(9, ok, 5, 5, tuple(a)), (9, ok, 5, 5, ()), (70_000_000, "status:500", 10**7, 1, b)],
        [(15, "status:404", 100, 900, b)] * 5 + [(15, ok, 100, 900, b)] * 5,
    ]
    recorder = Recorder(["get"])
    for number, requests in enumerate(rounds):
        outcomes: dict[str, int] = {}
        if number:  # an outcome without a latency first: it heads the frame's outcomes
            recorder.count(0, "error:reset")
            outcomes["error:reset"] = 1
        for latency_us, outcome, sent, received, features in requests:
            recorder.record(0, latency_us, outcome, sent, received, features, _instants())
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        frame = _take(recorder).ops["get"]
        assert frame.outcomes == outcomes
        assert list(frame.outcomes) == list(outcomes)
        diagnostics = frame.diagnostics
        assert diagnostics is not None
        counts, headers = _reference_features(requests)
        assert diagnostics.features == counts
        assert list(diagnostics.features.counts) == list(counts.counts)  # the cap's order
        assert diagnostics.headers == headers


def test_latency_buckets_from_the_table_are_those_computed() -> None:
    # Below 16 ms the bucket comes from a table: it must agree with the formula on both sides
    # of the table's end.
    for latency in [-5, 0, *range(1, 40_000, 7), 16_383, 16_384, 16_385, 3_600_000_000]:
        k = latency.bit_length() - 1
        expected = max(latency, 0) if latency < 8 else (k << 3) | ((latency >> (k - 3)) & 7)
        assert latency_bucket(latency) == expected, latency
