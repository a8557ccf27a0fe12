"""What every diagnosis needs: which outcomes are failures, feature tables, loads, formatting.

A *failure* here is a non-success outcome that is not rate limiting or load shedding (429, or
503 with Retry-After, which `diagnose` relabels `shed:503` before any finding runs: see
shedding.py; reported by the overload finding only) and not a request cancelled at the end of
the run. Feature tables count, per stage × operation, the requests that had a
feature, split into failed and ok, from `StageResult.diagnostics` (metrics/diagnostics.py).
Stages without diagnostics (older results) are left out of every table, so counts agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadlens.analysis.bootstrap import Distribution
from loadlens.metrics.diagnostics import OpDiagnostics, bucket_latency_us
from loadlens.metrics.feature_keys import Feature, FeatureKind
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.outcome import ErrorKind, Outcome, OutcomeKind, is_success_key

OutcomePredicate = Callable[[str], bool]

MIN_FAILURES = 10  # fewer failures than this in an operation: no association is claimed
SIGNIFICANCE = 1e-3  # p-values (after FDR correction where many tests are made) below this


CONFLICT_STATUSES = frozenset({409, 412, 423})  # optimistic-concurrency and lock conflicts


_ERROR_WORDS = {
    ErrorKind.CONNECT_REFUSED.value: "connection refused",
    ErrorKind.CONNECT_TIMEOUT.value: "connect timeout",
    ErrorKind.RESET.value: "connection reset",
    ErrorKind.READ_TIMEOUT.value: "read timeout",
    ErrorKind.TOTAL_TIMEOUT.value: "request timeout",
    ErrorKind.TLS.value: "TLS error",
    ErrorKind.DNS.value: "name not resolved",
    ErrorKind.PROTOCOL.value: "protocol error",
    ErrorKind.CLOSED.value: "closed without a response",
    ErrorKind.OTHER.value: "other transport error",
}


def error_words(kind: str) -> str:
    """How a report names a transport error kind: `read_timeout` → `read timeout`."""
    return _ERROR_WORDS.get(kind, kind.replace("_", " "))


def status_of(key: str) -> int | None:
    """The HTTP status in an outcome key (`status:404`, `ok:201`), or None."""
    outcome = Outcome.parse(key)
    return None if outcome is None else outcome.status


def is_policy(key: str) -> bool:
    """Rate limiting or load shedding: 429, and 503 with Retry-After (relabelled `shed:503`)."""
    return key in ("status:429", "shed:503")


def is_failure(key: str) -> bool:
    """A non-success that is neither rate limiting nor a cancellation at the run's end."""
    outcome = Outcome.parse(key)
    if outcome is None:
        return not is_success_key(key)
    return not outcome.is_success and not is_policy(key) and outcome.kind is not _CANCELLED


_CANCELLED = OutcomeKind.CANCELLED


def is_client_error(key: str) -> bool:
    """A 4xx failure (429 excluded) or a request the script could not build."""
    outcome = Outcome.parse(key)
    return outcome is not None and (outcome.is_client_error or outcome.is_script_problem)


def is_server_error(key: str) -> bool:
    """A 5xx response."""
    outcome = Outcome.parse(key)
    return outcome is not None and outcome.is_server_error


def is_conflict(key: str) -> bool:
    """A 409 / 412 / 423 response, expected by the scenario or not."""
    return status_of(key) in CONFLICT_STATUSES


def is_unexpected_conflict(key: str) -> bool:
    """A 409 / 412 / 423 the scenario did not expect."""
    outcome = Outcome.parse(key)
    return outcome is not None and outcome.kind is OutcomeKind.STATUS and is_conflict(key)


def stage_load(stage: StageResult) -> float | None:
    """The stage's load as one number: users (closed model) or arrivals per second (open)."""
    load = stage.info.load
    value = load.get("users") if load.get("model") == "closed" else load.get("rate")
    return float(value) if isinstance(value, int | float) else None


def describe_stage_load(stage: StageResult) -> str:
    """`5 users` or `100/s`."""
    load = stage_load(stage)
    if load is None:
        return "load unknown"
    return f"{load:g} users" if stage.info.load.get("model") == "closed" else f"{load:g}/s"


def ran_stages(result: RunResult) -> list[StageResult]:
    """The stages that ran, in order."""
    return [s for s in result.stages if s.ran]


@dataclass(frozen=True, slots=True)
class Table:
    """A 2×2 table: requests with / without a feature × failed / ok."""

    with_fail: int
    with_ok: int
    without_fail: int
    without_ok: int

    @property
    def failures(self) -> int:
        """Failed requests in the table."""
        return self.with_fail + self.without_fail

    @property
    def requests(self) -> int:
        """Every request in the table."""
        return self.with_fail + self.with_ok + self.without_fail + self.without_ok

    @property
    def with_feature(self) -> int:
        """Requests that had the feature."""
        return self.with_fail + self.with_ok

    @property
    def without_feature(self) -> int:
        """Requests that did not."""
        return self.without_fail + self.without_ok


def op_counts(stage: StageResult, op: str, failed: OutcomePredicate) -> tuple[int, int]:
    """(failed, ok) requests of an operation in a stage; other outcomes count in neither."""
    stats = stage.operations.get(op)
    if stats is None:
        return 0, 0
    fail = sum(n for key, n in stats.outcomes.items() if failed(key))
    ok = sum(n for key, n in stats.outcomes.items() if is_success_key(key))
    return fail, ok


def feature_counts(
    diagnostics: OpDiagnostics, feature: str, failed: OutcomePredicate
) -> tuple[int, int]:
    """(failed, ok) requests that had `feature`."""
    by_outcome = diagnostics.features.counts.get(feature, {})
    fail = sum(n for key, n in by_outcome.items() if failed(key))
    ok = sum(n for key, n in by_outcome.items() if is_success_key(key))
    return fail, ok


def diagnosed_stages(result: RunResult, op: str) -> list[StageResult]:
    """The stages that ran and recorded diagnostics for `op`."""
    return [s for s in ran_stages(result) if op in s.diagnostics and op in s.operations]


def feature_table(
    stages: Iterable[StageResult], op: str, feature: str, failed: OutcomePredicate
) -> Table:
    """The 2×2 table of `feature` × failed/ok summed over `stages`."""
    wf = wo = tf = to = 0
    for stage in stages:
        fail, ok = op_counts(stage, op, failed)
        f_fail, f_ok = feature_counts(stage.diagnostics[op], feature, failed)
        wf, wo, tf, to = wf + f_fail, wo + f_ok, tf + fail, to + ok
    return Table(wf, wo, max(tf - wf, 0), max(to - wo, 0))


def features_of(stages: Iterable[StageResult], op: str) -> list[str]:
    """Every feature recorded for `op` in `stages`, in a stable order."""
    names: dict[str, None] = {}
    for stage in stages:
        names.update(dict.fromkeys(stage.diagnostics[op].features.counts))
    return sorted(names)


def examples(
    stages: Iterable[StageResult], op: str, wanted: OutcomePredicate, limit: int = 3
) -> tuple[dict[str, Any], ...]:
    """Up to `limit` recorded example requests of `op` whose outcome is `wanted`."""
    found: list[dict[str, Any]] = []
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None:
            continue
        for sample in diagnostics.samples:
            if wanted(sample.outcome) and len(found) < limit:
                found.append({"stage": stage.info.name, "operation": op, **sample.to_dict()})
    return tuple(found)


def sample_latencies(
    stages: Iterable[StageResult], op: str, wanted: OutcomePredicate
) -> list[float]:
    """Latencies of the recorded example requests of `op` whose outcome is `wanted`."""
    values: list[float] = []
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None:
            continue
        values.extend(
            s.latency_ms for s in diagnostics.samples if wanted(s.outcome) and s.latency_ms
        )
    return values


def templates(
    stages: Iterable[StageResult], op: str, wanted: OutcomePredicate
) -> list[tuple[str, int]]:
    """Error templates of `op` for outcomes that are `wanted`, most frequent first."""
    counts: dict[str, int] = {}
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None:
            continue
        for template in diagnostics.templates:
            if wanted(template.outcome):
                counts[template.template] = counts.get(template.template, 0) + template.count
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def fmt_p(p: float) -> str:
    """`p = 3.1e-22`, `p < 1e-300`, `p = 0.42`."""
    if p < 1e-300:
        return "p < 1e-300"
    if p < 1e-3:
        return f"p = {p:.1e}"
    return f"p = {p:.2g}"


def pct(fraction: float) -> str:
    """`47.2%`."""
    return f"{100 * fraction:.1f}%"


def ratio(part: int, whole: int) -> float:
    """part/whole, 0 for an empty whole."""
    return part / whole if whole else 0.0


def outcome_summary(counts: dict[str, int], wanted: OutcomePredicate) -> str:
    """`HTTP 400 ×40, HTTP 404 ×2` for the wanted outcomes, most frequent first."""
    parts = sorted(((k, n) for k, n in counts.items() if wanted(k) and n), key=lambda kv: -kv[1])
    return ", ".join(f"{_describe(k)} ×{n:,}" for k, n in parts[:3])


def _describe(key: str) -> str:
    outcome = Outcome.parse(key)
    if outcome is not None and outcome.status is not None:
        return f"HTTP {outcome.status}"
    if outcome is not None and outcome.kind is OutcomeKind.TRANSPORT:
        return error_words(outcome.detail)
    return key


def op_outcomes(stages: Iterable[StageResult], op: str) -> dict[str, int]:
    """Outcome counts of `op` summed over `stages`."""
    total: dict[str, int] = {}
    for stage in stages:
        stats = stage.operations.get(op)
        if stats is not None:
            for key, n in stats.outcomes.items():
                total[key] = total.get(key, 0) + n
    return total


def parsed_features(stages: Iterable[StageResult], op: str) -> list[tuple[str, Feature]]:
    """Every feature recorded for `op` in `stages` that this version reads, with its key."""
    out = []
    for key in features_of(stages, op):
        feature = Feature.parse(key)
        if feature is not None:
            out.append((key, feature))
    return out


def feature_latency(stages: Iterable[StageResult], op: str, feature: str) -> dict[int, int]:
    """The latency histogram (recorder buckets) of `op`'s responses that had `feature`."""
    total: dict[int, int] = {}
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None:
            continue
        for bucket, n in diagnostics.features.latency.get(feature, {}).items():
            total[bucket] = total.get(bucket, 0) + n
    return total


def op_latency(stages: Iterable[StageResult], op: str) -> dict[int, int]:
    """The latency histogram of every response of `op`: the sum over its request-size buckets
    (each response has exactly one). Empty for results without latencies per feature."""
    total: dict[int, int] = {}
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None:
            continue
        for key, histogram in diagnostics.features.latency.items():
            if key.startswith(_REQUEST_SIZE_PREFIX):
                for bucket, n in histogram.items():
                    total[bucket] = total.get(bucket, 0) + n
    return total


_REQUEST_SIZE_PREFIX = f"{FeatureKind.REQUEST_SIZE.value}:"


def histogram_distribution(histogram: dict[int, int]) -> Distribution:
    """The latencies (ms, each bucket's middle) of a diagnostics histogram, as a Distribution:
    one entry per bucket, never one per request (a long run has tens of millions)."""
    buckets = sorted(b for b, n in histogram.items() if n > 0)
    values = np.array([bucket_latency_us(b) / 1000 for b in buckets], dtype=np.float64)
    counts = np.array([histogram[b] for b in buckets], dtype=np.int64)
    return Distribution(values, counts)


def subtract(whole: dict[int, int], part: dict[int, int]) -> dict[int, int]:
    """`whole` without `part`, bucket by bucket (never below zero)."""
    out = {b: n - part.get(b, 0) for b, n in whole.items()}
    return {b: n for b, n in out.items() if n > 0}


def slow_examples(stages: Iterable[StageResult], op: str, limit: int = 3) -> list[dict[str, Any]]:
    """The slowest recorded requests of `op` (the recorder keeps the slowest of each stage)."""
    found: list[dict[str, Any]] = []
    for stage in stages:
        diagnostics = stage.diagnostics.get(op)
        if diagnostics is None:
            continue
        for sample in diagnostics.slow_samples:
            found.append({"stage": stage.info.name, "operation": op, **sample.to_dict()})
    found.sort(key=lambda e: -(e.get("latency_ms") or 0.0))
    return found[:limit]


# Findings carry a confidence field (the result schema has it), but no rule's value has been
# calibrated against labelled runs, so reports do not show it and the ordering of findings does
# not rest on it (findings/__init__.py). Detectors whose evidence is a test give this value.
UNCALIBRATED = 0.5


def is_completed(key: str) -> bool:
    """A request that got a whole response (whatever its status): throughput counts these.

    Requests cancelled at a stage's end, never sent (missing variable) or lost to a transport
    error are not throughput."""
    return is_success_key(key) or key.startswith(("status", "check_failed", "capture_failed"))
