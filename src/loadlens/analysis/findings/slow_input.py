"""D5b: slowness explained by a request attribute — "requests with X are 20× slower".

Every feature the failure diagnosis tests (query and body keys and values, path segments, the
flow, variables' shapes and values, request size, "request ≥ 2^K bytes") and the response
size are tested against latency too. The recorder keeps, per stage × operation × feature, a
histogram of the latencies of the responses that had the feature (8 buckets per power of two);
the operation's whole distribution is the sum over its request-size buckets, so the requests
*without* the feature are the difference. For each feature with ≥ MIN_SAMPLES responses on
both sides: a one-sided Mann–Whitney test (`scipy.stats.mannwhitneyu`, tie-corrected: the
histogram's buckets are ties), Benjamini–Hochberg corrected across the operation's features,
and the effect size, the ratio of the two medians with a 95 % interval (each median's
distribution-free order-statistic interval; the ratio's interval joins their ends).

Features carried mostly by failures (≥ FAILED_SHARE of their requests failed: an error
response's size, an input the service rejects) are left out: their latency is the failure's,
and the failure has its own finding. A response's size is not chosen by the sender, and under
load it can follow from the slowness instead of causing it (a body that reports the backlog a
queueing service builds up grows while latency climbs): response sizes are therefore judged at
the lowest load of the run only, where queueing does not blur the contrast (as the latency tail
is); a size first seen at a higher load is left to the saturation or tail finding. Inputs are
chosen by the sender whatever the load, and are judged over every stage.

A feature explains the slowness when the adjusted p < SIGNIFICANCE, the ratio of medians is
≥ MIN_RATIO and its interval's low end ≥ MIN_RATIO_LOW. The strongest such feature per
operation (highest interval low end, then the most specific kind) is the finding: the service's
(a code path that input takes), always minor: slowness decides the verdict only through a
latency gate, which the scenario sets.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from loadlens.analysis.bootstrap import Distribution
from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import benjamini_hochberg, mann_whitney_greater_counts
from loadlens.metrics.feature_keys import Feature, FeatureKind, format_bytes
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_SAMPLES = 20  # responses with, and without, the feature
MIN_RATIO = 2.0  # ratio of medians (with / without)
MIN_RATIO_LOW = 1.5  # the low end of its 95 % interval
FAILED_SHARE = 0.5  # features whose requests failed this often are the failure finding's
_Z = 1.959963984540054  # the normal quantile of a two-sided 95 % interval

# The most specific claim first when several features split the latencies alike.
_ORDER = (
    FeatureKind.QUERY_VALUE,
    FeatureKind.BODY_VALUE,
    FeatureKind.VALUE,
    FeatureKind.PATH_SEGMENT,
    FeatureKind.REQUEST_SIZE,
    FeatureKind.RESPONSE_SIZE,
    FeatureKind.QUERY_KEY,
    FeatureKind.BODY_KEY,
    FeatureKind.VALUE_SHAPE,
    FeatureKind.FLOW,
)


@dataclass(frozen=True, slots=True)
class Split:
    """The latencies of an operation's responses with and without one feature."""

    label: str
    feature: Feature
    with_ms: Distribution  # latencies, ms, as buckets and counts (never one per request)
    without_ms: Distribution
    at_least: bool = False  # a size union: the bucket and every larger one
    stage: str | None = None  # the one load level it was judged at (response sizes), if fewer
    values: tuple[str, ...] = ()  # several values of one variable, each slower on its own

    def describe(self) -> str:
        """`id=7`, `id in {3, 7}`, `responses of 64 KiB or more`."""
        if self.values:
            return f"{self.feature.name} in {{{', '.join(self.values)}}}"
        if self.at_least:
            sizes = self.feature.size_bytes
            what = "requests" if self.feature.kind is FeatureKind.REQUEST_SIZE else "responses"
            return f"{what} of {format_bytes(sizes[0] if sizes else 0)} or more"
        return self.feature.describe()


def find(result: RunResult) -> list[Finding]:
    """One finding per operation whose slow requests a request feature explains."""
    findings = []
    for op in result.operations:
        stages = c.diagnosed_stages(result, op)
        if not stages:
            continue
        whole = c.op_latency(stages, op)
        if sum(whole.values()) < 2 * MIN_SAMPLES:
            continue
        found = _explained(stages, op, whole)
        if found is not None:
            findings.append(found)
    return findings


def _splits(stages: list[StageResult], op: str, whole: dict[int, int]) -> list[Split]:
    out = []
    sizes: dict[FeatureKind, list[tuple[int, str]]] = {}
    low = _lowest_load(stages)
    low_whole = c.op_latency(low, op)
    for key, feature in c.parsed_features(stages, op):
        if feature.kind not in _ORDER or _mostly_failed(stages, op, key):
            continue
        if feature.kind in (FeatureKind.REQUEST_SIZE, FeatureKind.RESPONSE_SIZE):
            sizes.setdefault(feature.kind, []).append((int(feature.name), key))
        if feature.kind is FeatureKind.RESPONSE_SIZE:
            out.append(_split(key, feature, c.feature_latency(low, op, key), low_whole))
        else:
            out.append(_split(key, feature, c.feature_latency(stages, op, key), whole))
    for kind, buckets in sizes.items():
        at = low if kind is FeatureKind.RESPONSE_SIZE else stages
        buckets.sort()
        for index in range(1, len(buckets)):
            union: dict[int, int] = {}
            for _, key in buckets[index:]:
                for bucket, n in c.feature_latency(at, op, key).items():
                    union[bucket] = union.get(bucket, 0) + n
            first = Feature.parse(buckets[index][1])
            if first is not None:
                label = f"{buckets[index][1]}+"
                base = low_whole if kind is FeatureKind.RESPONSE_SIZE else whole
                out.append(_split(label, first, union, base, at_least=True))
    if len(low) < len(stages):
        name = ", ".join(f"`{s.info.name}` ({c.describe_stage_load(s)})" for s in low)
        out = [
            dataclasses.replace(x, stage=name) if x.feature.kind is FeatureKind.RESPONSE_SIZE else x
            for x in out
        ]
    return out


def _lowest_load(stages: list[StageResult]) -> list[StageResult]:
    """The stages at the run's lowest load (the first stage when a load is unknown)."""
    loads = [c.stage_load(s) for s in stages]
    known = [load for load in loads if load is not None]
    if len(known) < len(loads) or not known:
        return stages[:1]
    return [s for s, load in zip(stages, loads, strict=True) if load == min(known)]


def _mostly_failed(stages: list[StageResult], op: str, key: str) -> bool:
    failed = ok = 0
    for stage in stages:
        f, o = c.feature_counts(stage.diagnostics[op], key, c.is_failure)
        failed, ok = failed + f, ok + o
    return c.ratio(failed, failed + ok) >= FAILED_SHARE


def _split(
    label: str,
    feature: Feature,
    with_feature: dict[int, int],
    whole: dict[int, int],
    *,
    at_least: bool = False,
) -> Split:
    return Split(
        label,
        feature,
        c.histogram_distribution(with_feature),
        c.histogram_distribution(c.subtract(whole, with_feature)),
        at_least,
    )


Effect = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


def _effect(split: Split) -> Effect | None:
    """(ratio of medians with its interval, slow median, fast median), or None below the gates."""
    slow = split.with_ms.median_interval()
    fast = split.without_ms.median_interval()
    ratio = slow[0] / fast[0] if fast[0] else math.inf
    ratio_low = slow[1] / fast[2] if fast[2] else math.inf
    ratio_high = slow[2] / fast[1] if fast[1] else math.inf
    if ratio < MIN_RATIO or ratio_low < MIN_RATIO_LOW:
        return None
    return (ratio, ratio_low, ratio_high), slow, fast


def _explained(stages: list[StageResult], op: str, whole: dict[int, int]) -> Finding | None:
    tested: list[tuple[Split, float]] = []
    for split in _splits(stages, op, whole):
        if split.with_ms.total < MIN_SAMPLES or split.without_ms.total < MIN_SAMPLES:
            continue
        with_it, without = split.with_ms, split.without_ms
        p = mann_whitney_greater_counts(
            with_it.values, with_it.counts, without.values, without.counts
        )
        tested.append((split, p))
    adjusted = benjamini_hochberg([p for _, p in tested])
    kept = []
    for (split, _), p in zip(tested, adjusted, strict=True):
        effect = None if p >= c.SIGNIFICANCE else _effect(split)
        if effect is None:
            continue
        order = (-round(effect[0][1], 1), _ORDER.index(split.feature.kind), split.label)
        kept.append((order, split, p, effect))
    if not kept:
        return None
    _, split, p, (ratios, slow, fast) = min(kept, key=lambda k: k[0])
    group = [
        (k[1], k[2])
        for k in kept
        if split.feature.kind in _VALUE_KINDS
        and (k[1].feature.kind, k[1].feature.name) == (split.feature.kind, split.feature.name)
    ]
    if len(group) > 1:
        merged = _value_group(stages, op, whole, [g for g, _ in group])
        effect = _effect(merged)
        if effect is not None:
            split, p, (ratios, slow, fast) = merged, max(q for _, q in group), effect
    return _finding(stages, op, split, p, ratios, slow, fast, len(tested))


_VALUE_KINDS = (FeatureKind.QUERY_VALUE, FeatureKind.BODY_VALUE, FeatureKind.VALUE)


def _value_group(
    stages: list[StageResult], op: str, whole: dict[int, int], group: list[Split]
) -> Split:
    """Values of one variable that are each slower on their own, as one split: one cause (the
    demo's slow accounts are every fifth one, not one of them)."""
    ordered = sorted(group, key=lambda g: g.feature.value)
    union: dict[int, int] = {}
    for member in ordered:
        for bucket, n in c.feature_latency(stages, op, member.label).items():
            union[bucket] = union.get(bucket, 0) + n
    merged = _split(", ".join(g.label for g in ordered), ordered[0].feature, union, whole)
    return dataclasses.replace(merged, values=tuple(g.feature.value for g in ordered))


def _finding(
    stages: list[StageResult],
    op: str,
    split: Split,
    p: float,
    ratios: tuple[float, float, float],
    slow: tuple[float, float, float],
    fast: tuple[float, float, float],
    tests: int,
) -> Finding:
    ratio, ratio_low, ratio_high = ratios
    n_with, n_without = split.with_ms.total, split.without_ms.total
    share = c.ratio(n_with, n_with + n_without)
    described = split.describe()
    slow_share = split.with_ms.share_above(2 * fast[0])
    with_p10, with_p90 = split.with_ms.percentiles([10, 90])
    without_p10, without_p90 = split.without_ms.percentiles([10, 90])
    each = f", the largest of each of the {len(split.values)} values against the rest" * bool(
        split.values
    )
    evidence = (
        Evidence(
            "ratio_of_medians",
            f"median {slow[0]:,.1f} ms with {described} ({n_with:,} responses) vs "
            f"{fast[0]:,.1f} ms without ({n_without:,}): ×{ratio:,.1f} "
            f"[95% {ratio_low:,.1f}–{ratio_high:,.1f}]",
            ratio,
        ),
        Evidence(
            "mann_whitney_p",
            f"Mann–Whitney {c.fmt_p(p)}{each} (one-sided, tie-corrected on the recorded "
            f"latency buckets; Benjamini–Hochberg over {tests} features)",
            p,
        ),
        Evidence(
            "feature_share",
            f"`{split.label}` on {c.pct(share)} of `{op}`'s responses; "
            f"{c.pct(slow_share)} of them took over twice the others' median",
            share,
        ),
        Evidence(
            "quantiles",
            f"with it: p10 {with_p10:,.1f} ms, p90 {with_p90:,.1f} ms; "
            f"without: p10 {without_p10:,.1f} ms, p90 {without_p90:,.1f} ms",
        ),
    )
    examples = c.slow_examples(stages, op, 2) + list(
        c.examples(stages, op, lambda k: k.startswith("ok"), 1)
    )
    return Finding(
        kind=FindingClass.SLOW_INPUT,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MINOR,
        confidence=0.9 if p < 1e-6 else 0.8,
        headline=(
            f"SERVICE BUG (input-dependent latency) — `{op}`: requests with {described} are "
            f"×{ratio:,.1f} slower (median {slow[0]:,.1f} ms vs {fast[0]:,.1f} ms, "
            f"{c.pct(share)} of requests)"
        ),
        evidence=evidence,
        counter_evidence=_same_load(stages, op, split),
        examples=tuple(examples),
        advice=(
            f"profile `{op}` with {described}: that input takes a slower code path (a missing "
            "index, an unbounded query, a cold cache, a larger payload to process)"
        ),
        operation=op,
    )


def _same_load(stages: list[StageResult], op: str, split: Split) -> tuple[Evidence, ...]:
    """That the comparison is not one of loads: both groups ran in the same stages."""
    if split.values:
        return ()
    if split.stage is not None:
        return (
            Evidence(
                "lowest_load",
                f"not a load effect: judged at the run's lowest load only ({split.stage}), "
                "where queueing does not blur it (a response's size can follow from the "
                "slowness at higher loads)",
            ),
        )
    keys = [split.label.rstrip("+")]
    present = [s.info.name for s in stages if keys[0] in s.diagnostics[op].features.counts]
    if split.at_least or len(present) != len(stages):
        return ()
    return (
        Evidence(
            "same_stages",
            f"not a load effect: requests with and without it ran side by side in the same "
            f"{len(stages)} stage(s) ({', '.join(present)})",
            float(len(stages)),
        ),
    )
