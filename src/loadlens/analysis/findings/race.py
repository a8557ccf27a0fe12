"""D3: a race under concurrency — 5xx when the same entity is used by overlapping requests.

Per operation with at least MIN_FAILURES server errors: for each `overlap:VAR` feature (another
request with the same value of VAR was in flight), a one-sided Fisher test of 5xx vs overlap.
A race is claimed when p < SIGNIFICANCE, the share of the 5xx that overlapped is consistent
with ≥ MIN_COVERAGE (the upper bound of its 95 % Wilson interval: the share is a sample, and a
point estimate near the cut-off missed the demo's race in some runs) and overlap raises the
5xx rate by ≥ MIN_INCREASE. A worker sees only its own requests in flight, so with
several workers the share of 5xx seen to overlap is read against the share of concurrent
requests a worker can see (overlap.py): the coverage is the seen share over the visible one,
so the rule does not depend on how the load was split. Without an overlap feature, 5xx whose
rate rises with load (Cochran–Armitage p < SIGNIFICANCE) and whose template names a uniqueness,
lock or serialisation conflict are reported too, with less confidence.
"""

from __future__ import annotations

import re

from loadlens.analysis.findings import common as c
from loadlens.analysis.findings.overlap import weighted_visible_share
from loadlens.analysis.stats import Trend, fisher_exact, trend_test, wilson
from loadlens.metrics.feature_keys import FeatureKind
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_COVERAGE = 0.8
MIN_INCREASE = 0.1
RACE_WORDS = re.compile(
    r"unique|constraint|duplicate|deadlock|serializ|lock wait|already exists|conflict", re.I
)


def find(result: RunResult) -> list[Finding]:
    """One finding per operation whose server errors come from concurrent use of an entity."""
    findings = []
    for op in result.operations:
        stages = c.diagnosed_stages(result, op)
        if not stages:
            continue
        outcomes = c.op_outcomes(stages, op)
        if sum(n for k, n in outcomes.items() if c.is_server_error(k)) < c.MIN_FAILURES:
            continue
        found = _overlap(stages, op, result.run.workers) or _rising(stages, op)
        if found is not None:
            findings.append(found)
    return findings


def _stage_trend(stages: list[StageResult], op: str) -> tuple[Trend, str]:
    counts = [c.op_counts(s, op, c.is_server_error) for s in stages]
    totals = [sum(s.operations[op].outcomes.values()) for s in stages]
    scores = [c.stage_load(s) or float(i) for i, s in enumerate(stages)]
    trend = trend_test([f for f, _ in counts], totals, scores)
    parts = ", ".join(
        f"{c.pct(c.ratio(f, t))} @ {c.describe_stage_load(s)}"
        for (f, _), t, s in zip(counts, totals, stages, strict=True)
    )
    return trend, parts


def _template_lines(stages: list[StageResult], op: str) -> list[Evidence]:
    return [
        Evidence("template", f"error template ×{n:,}: {text}", float(n))
        for text, n in c.templates(stages, op, c.is_server_error)[:2]
    ]


def _best_overlap(
    stages: list[StageResult], op: str, visible: float
) -> tuple[float, str, c.Table, float] | None:
    """The overlap feature that best explains the 5xx: (p, entity, table, coverage), or None."""
    best: tuple[float, str, c.Table, float] | None = None
    for feature, parsed in c.parsed_features(stages, op):
        if parsed.kind is not FeatureKind.OVERLAP:
            continue
        t = c.feature_table(stages, op, feature, c.is_server_error)
        if t.without_feature == 0 or t.with_feature == 0:
            continue
        p = fisher_exact(t.with_fail, t.with_ok, t.without_fail, t.without_ok, "greater")
        seen = c.ratio(t.with_fail, t.failures)
        coverage = min(seen / visible, 1.0) if visible > 0 else 0.0
        # The seen share is a sample of the failures: read against its upper bound, a race
        # whose partners happened to run in other workers more often than the split predicts
        # is not missed for that (the Fisher test and the increase carry the evidence).
        coverage_high = wilson(t.with_fail, t.failures)[1] / visible if visible > 0 else 0.0
        increase = c.ratio(t.with_fail, t.with_feature) - c.ratio(t.without_fail, t.without_feature)
        significant = p < c.SIGNIFICANCE and coverage_high >= MIN_COVERAGE
        if significant and increase >= MIN_INCREASE and (best is None or p < best[0]):
            best = (p, parsed.name, t, coverage)
    return best


def _overlap(stages: list[StageResult], op: str, workers: int) -> Finding | None:
    # The chance that a failing request's concurrent partner ran in its own worker, weighted by
    # where the failures were: the most of the real overlap that the features can show.
    errors = [c.op_counts(s, op, c.is_server_error)[0] for s in stages]
    visible = weighted_visible_share(stages, errors, workers)
    best = _best_overlap(stages, op, visible)
    if best is None:
        return None
    p, var, t, coverage = best
    seen = c.ratio(t.with_fail, t.failures)
    p_with, p_without = (
        c.ratio(t.with_fail, t.with_feature),
        c.ratio(t.without_fail, t.without_feature),
    )
    lo, hi = wilson(t.with_fail, t.with_feature)
    trend, by_stage = _stage_trend(stages, op)
    templates = c.templates(stages, op, c.is_server_error)
    top = f' "{templates[0][0][:80]}"' if templates else ""
    evidence = [
        Evidence(
            "coverage",
            f"{t.with_fail:,} of {t.failures:,} server errors ({c.pct(seen)}) had another "
            f"request in flight with the same `{var}`"
            + ("" if workers <= 1 else " in their worker"),
            seen,
        ),
        Evidence(
            "fail_given_overlap",
            f"5xx rate {c.pct(p_with)} [Wilson {c.pct(lo)}–{c.pct(hi)}] with overlap "
            f"({t.with_fail:,}/{t.with_feature:,}) vs {c.pct(p_without)} without "
            f"({t.without_fail:,}/{t.without_feature:,})",
            p_with,
        ),
        Evidence("fisher_p", f"Fisher exact {c.fmt_p(p)} (one-sided)", p),
        *_template_lines(stages, op),
    ]
    if workers > 1:
        evidence.insert(
            1,
            Evidence(
                "visible_share",
                f"{workers} workers, each seeing only its own requests in flight: a concurrent "
                f"request ran in the same worker with chance {c.pct(visible)} (the split of "
                f"the load), so about {c.pct(coverage)} of the server errors overlapped",
                coverage,
            ),
        )
    if len(stages) >= 2:
        evidence.append(
            Evidence(
                "trend_p",
                f"by stage: {by_stage} (ordinal trend z = {trend.z:.1f}, "
                f"{c.fmt_p(trend.p_rising)})",
                trend.p_rising,
            )
        )
    about = "" if workers <= 1 else "about "
    return Finding(
        kind=FindingClass.RACE,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MAJOR,
        confidence=0.9 if p < 1e-6 else 0.8,
        headline=(
            f"SERVICE BUG (race) — `{op}`: {t.failures:,} × 5xx{top}; {about}{c.pct(coverage)} had "
            f"a concurrent request with the same `{var}` ({c.pct(p_with)} vs {c.pct(p_without)})"
        ),
        evidence=tuple(evidence),
        counter_evidence=(
            Evidence(
                "not_random",
                f"not load-independent noise: without a concurrent same-`{var}` request the "
                f"5xx rate is {c.pct(p_without)}",
                p_without,
            ),
        ),
        examples=c.examples(stages, op, c.is_server_error),
        advice=(
            f"make the operation safe under concurrent use of one `{var}` (idempotent upsert, "
            "ON CONFLICT, unique token per request); also decide whether the scenario should "
            "share that entity between users"
        ),
        operation=op,
    )


def _rising(stages: list[StageResult], op: str) -> Finding | None:
    if len(stages) < 3:
        return None
    templates = c.templates(stages, op, c.is_server_error)
    if not templates or not RACE_WORDS.search(templates[0][0]):
        return None
    trend, by_stage = _stage_trend(stages, op)
    if trend.p_rising >= c.SIGNIFICANCE:
        return None
    errors = sum(c.op_counts(s, op, c.is_server_error)[0] for s in stages)
    return Finding(
        kind=FindingClass.RACE,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MAJOR,
        confidence=0.6,
        headline=(
            f"SERVICE BUG (likely race) — `{op}`: {errors:,} × 5xx "
            f'"{templates[0][0][:80]}" growing with load'
        ),
        evidence=(
            Evidence(
                "trend_p",
                f"by stage: {by_stage} (ordinal trend z = {trend.z:.1f}, "
                f"{c.fmt_p(trend.p_rising)})",
                trend.p_rising,
            ),
            *_template_lines(stages, op),
        ),
        counter_evidence=(
            Evidence(
                "overlap_unknown",
                "no overlap feature recorded: concurrency on one entity is inferred from the "
                "error text and the trend, not measured",
            ),
        ),
        examples=c.examples(stages, op, c.is_server_error),
        advice="look for check-then-act on a unique key in this operation; make it atomic",
        operation=op,
    )
