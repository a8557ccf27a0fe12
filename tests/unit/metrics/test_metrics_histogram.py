"""HDR histograms: bulk recording matches hdrh, summaries match hdrh, encoding round-trips."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loadlens.metrics.histogram import (
    FOLD_EVERY,
    HIGHEST_US,
    BulkHistogram,
    LatencySummary,
    decode_histogram,
    encode_histogram,
    merge_into,
    new_histogram,
    record_values,
)


def _one_by_one(values: list[int]) -> object:
    h = new_histogram()
    for v in values:
        h.record_value(min(max(v, 1), HIGHEST_US))
    return h


def test_bulk_recording_is_identical_to_hdrh_record_value() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            (rng.lognormal(8, 2, 20_000) + 1).astype(np.int64),
            np.array([1, 2, 2047, 2048, 2049, 4095, 4096, 10**9, HIGHEST_US], dtype=np.int64),
        ]
    )
    bulk = new_histogram()
    record_values(bulk, values)
    assert encode_histogram(bulk) == encode_histogram(_one_by_one(values.tolist()))


def test_summary_matches_hdrh_own_methods() -> None:
    rng = np.random.default_rng(3)
    h = new_histogram()
    record_values(h, (rng.lognormal(9, 1.5, 5000) + 1).astype(np.int64))
    s = LatencySummary.of(h)
    assert s.count == h.get_total_count() == 5000
    assert s.min == h.get_min_value() / 1000
    assert s.max == h.get_max_value() / 1000
    for got, pct in ((s.p50, 50), (s.p90, 90), (s.p95, 95), (s.p99, 99), (s.p999, 99.9)):
        assert got == h.get_value_at_percentile(pct) / 1000
    assert abs(s.mean - h.get_mean_value() / 1000) < 1e-9
    assert abs(s.stdev - h.get_stddev() / 1000) < 1e-6


def test_empty_histogram_summary_is_zero_and_encodes_to_empty_text() -> None:
    h = new_histogram()
    assert LatencySummary.of(h) == LatencySummary(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert encode_histogram(h) == ""
    assert decode_histogram("").get_total_count() == 0


def test_too_large_and_too_small_values_are_clamped_and_counted() -> None:
    h = new_histogram()
    clamped = record_values(h, np.array([0, 5, HIGHEST_US * 10], dtype=np.int64))
    assert clamped == 2
    s = LatencySummary.of(h)
    assert s.count == 3
    assert s.min == 0.001
    assert s.max >= HIGHEST_US / 1000


def test_summary_dict_round_trip() -> None:
    h = new_histogram()
    record_values(h, np.array([100, 200, 300], dtype=np.int64))
    s = LatencySummary.of(h)
    assert LatencySummary.from_dict(s.to_dict()) == s


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(min_value=1, max_value=HIGHEST_US), min_size=1, max_size=400),
    workers=st.integers(min_value=1, max_value=4),
)
def test_encoded_histograms_merge_losslessly(values: list[int], workers: int) -> None:
    whole = new_histogram()
    record_values(whole, np.array(values, dtype=np.int64))
    merged = new_histogram()
    for w in range(workers):
        part = new_histogram()
        record_values(part, np.array(values[w::workers], dtype=np.int64))
        merge_into(merged, decode_histogram(encode_histogram(part)))
    expected, got = LatencySummary.of(whole), LatencySummary.of(merged)
    assert got.count == expected.count == len(values)
    assert (got.p50, got.p99, got.min, got.max) == (
        expected.p50,
        expected.p99,
        expected.min,
        expected.max,
    )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(min_value=-5, max_value=HIGHEST_US + 5), max_size=3 * FOLD_EVERY),
    st.integers(min_value=1, max_value=2 * FOLD_EVERY),
)
def test_folding_in_chunks_records_what_one_bulk_recording_does(
    values: list[int], chunk: int
) -> None:
    folded = BulkHistogram()
    for start in range(0, len(values), chunk):
        folded.values.extend(values[start : start + chunk])
        folded.fold()
    assert folded.values == []
    whole = new_histogram()
    clamped = record_values(whole, np.array(values, dtype=np.int64))
    if not values:
        assert folded.histogram is None
        return
    assert encode_histogram(folded.histogram) == encode_histogram(whole)
    assert folded.clamped == clamped


def test_fold_keeps_the_same_list_for_its_owner_to_append_to() -> None:
    bulk = BulkHistogram()
    kept = bulk.values
    kept.extend([10, 20, 30])
    bulk.fold()
    kept.append(40)
    bulk.fold()
    assert bulk.values is kept
    assert LatencySummary.of(bulk.histogram).count == 4
