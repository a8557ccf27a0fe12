"""D1: failures explained by a request attribute, e.g. the script's `cursor` parameter.

For each operation with at least MIN_FAILURES failures, every query key, body key and
single-shape variable feature gets a 2×2 table (present/absent × failed/ok) and a one-sided
Fisher test, Benjamini–Hochberg corrected across the operation's features. A feature explains
the failures when the corrected p < SIGNIFICANCE, it covers ≥ MIN_COVERAGE of the failures
and it raises the failure rate by ≥ MIN_INCREASE (Liblit's Increase, against the requests
without it). Then the script/infrastructure tests of docs/diagnosis.md D1: 4xx, no rising
trend with load (Cochran–Armitage across stages), fast failures, present from the first stage.
"""

from __future__ import annotations

from statistics import median

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import benjamini_hochberg, fisher_exact, trend_test, wilson
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

PREFIXES = ("q:", "b:", "v:")
MIN_SUPPORT = 5  # requests with, and without, the feature
MIN_COVERAGE = 0.9  # P(feature | fail)
MIN_INCREASE = 0.3  # P(fail | feature) − P(fail | no feature)
MAJOR_SHARE = 0.05  # explained failures above this share of the operation's requests: major
RISING_P = 0.01  # a one-sided trend p below this means the failures rise with load
CLIENT_SHARE = 0.8  # this share of 4xx among the explained failures makes it the script's
FAST_FACTOR = 1.5  # failures no slower than this × the successes' median are "fast"


def find(result: RunResult) -> list[Finding]:
    """One finding per operation whose failures a request feature explains."""
    findings: list[Finding] = []
    for op in result.operations:
        stages = c.diagnosed_stages(result, op)
        if not stages:
            continue
        outcomes = c.op_outcomes(stages, op)
        if sum(n for k, n in outcomes.items() if c.is_failure(k)) < c.MIN_FAILURES:
            continue
        best = _best_feature(stages, op)
        if best is not None:
            findings.append(_finding(stages, op, outcomes, *best))
    return findings


def _candidates(stages: list[StageResult], op: str) -> list[str]:
    features = [f for f in c.features_of(stages, op) if f.startswith(PREFIXES)]
    shapes: dict[str, int] = {}
    for f in features:
        if f.startswith("v:"):
            var = f[2:].partition("=")[0]
            shapes[var] = shapes.get(var, 0) + 1
    # a variable seen with several shapes is a shape question: the broken-chain finding's
    return [f for f in features if not f.startswith("v:") or shapes[f[2:].partition("=")[0]] == 1]


def _best_feature(stages: list[StageResult], op: str) -> tuple[str, c.Table, float, int] | None:
    tested: list[tuple[str, c.Table, float]] = []
    for feature in _candidates(stages, op):
        t = c.feature_table(stages, op, feature, c.is_failure)
        if t.with_feature < MIN_SUPPORT or t.without_feature < MIN_SUPPORT:
            continue
        p = fisher_exact(t.with_fail, t.with_ok, t.without_fail, t.without_ok, "greater")
        tested.append((feature, t, p))
    adjusted = benjamini_hochberg([p for _, _, p in tested])
    kept = []
    for (feature, t, _), p in zip(tested, adjusted, strict=True):
        coverage = c.ratio(t.with_fail, t.failures)
        increase = c.ratio(t.with_fail, t.with_feature) - c.ratio(t.without_fail, t.without_feature)
        if p < c.SIGNIFICANCE and coverage >= MIN_COVERAGE and increase >= MIN_INCREASE:
            order = PREFIXES.index(feature[:2])
            kept.append(((-coverage, -increase, order, feature), feature, t, p))
    if not kept:
        return None
    _, feature, table, p = min(kept)
    return feature, table, p, len(tested)


def _finding(
    stages: list[StageResult],
    op: str,
    outcomes: dict[str, int],
    feature: str,
    t: c.Table,
    p: float,
    tests: int,
) -> Finding:
    requests = t.requests
    fail_rate = c.ratio(t.failures, requests)
    share = c.ratio(t.with_feature, requests)
    p_with = c.ratio(t.with_fail, t.with_feature)
    p_without = c.ratio(t.without_fail, t.without_feature)
    lo_with, hi_with = wilson(t.with_fail, t.with_feature)
    lo_without, hi_without = wilson(t.without_fail, t.without_feature)
    by_outcome: dict[str, int] = {}
    for stage in stages:
        for key, n in stage.diagnostics[op].features.counts.get(feature, {}).items():
            if c.is_failure(key):
                by_outcome[key] = by_outcome.get(key, 0) + n
    client = c.ratio(
        sum(n for k, n in by_outcome.items() if c.is_client_error(k)), sum(by_outcome.values())
    )
    statuses = c.outcome_summary(by_outcome, c.is_failure)
    evidence = [
        Evidence(
            "feature_share",
            f"`{feature}` present in {c.pct(share)} of requests ({t.with_feature:,}/{requests:,})",
            share,
        ),
        Evidence(
            "coverage",
            f"P({feature} | fail) = {c.pct(c.ratio(t.with_fail, t.failures))} "
            f"({t.with_fail:,}/{t.failures:,})",
            c.ratio(t.with_fail, t.failures),
        ),
        Evidence(
            "fail_given_feature",
            f"P(fail | {feature}) = {c.pct(p_with)} [Wilson {c.pct(lo_with)}–{c.pct(hi_with)}] "
            f"({t.with_fail:,}/{t.with_feature:,}) vs P(fail | no {feature}) = "
            f"{c.pct(p_without)} [{c.pct(lo_without)}–{c.pct(hi_without)}] "
            f"({t.without_fail:,}/{t.without_feature:,})",
            p_with,
        ),
        Evidence(
            "fisher_p",
            f"Fisher exact {c.fmt_p(p)} (one-sided; Benjamini–Hochberg over {tests} features)",
            p,
        ),
        Evidence(
            "failure_share",
            f"failure share {c.pct(fail_rate)} ≈ {c.pct(share)} × {c.pct(p_with)} "
            f"= {c.pct(share * p_with)} → the feature explains "
            f"{c.pct(c.ratio(t.with_fail, t.failures))} of the failures",
            fail_rate,
        ),
    ]
    for text, n in c.templates(stages, op, c.is_failure)[:2]:
        evidence.append(Evidence("template", f"error template ×{n:,}: {text}", float(n)))
    ruled_out, checks_passed, rising = _script_checks(stages, op, feature, client)
    script = client >= CLIENT_SHARE
    attribution = Attribution.TEST_SCRIPT if script else Attribution.SERVICE_BUG
    if script and feature.startswith("v:") and _from_data(stages, op, feature):
        attribution = Attribution.TEST_DATA
    confidence = min(0.99, 0.5 + 0.1 * checks_passed + (0.09 if p < 1e-6 else 0.0))
    major = c.ratio(t.with_fail, requests) >= MAJOR_SHARE and not (script and rising)
    what = "script or data fault" if script else "input-dependent server error"
    headline = (
        f"{attribution.label} ({what}) — `{op}`: {c.pct(fail_rate)} of requests failed "
        f"({t.failures:,}/{requests:,}), {statuses}; "
        f"{c.pct(c.ratio(t.with_fail, t.failures))} of failures had `{feature}`"
    )
    name = feature[2:].partition("=")[0]
    advice = (
        f"fix how the script sets `{name}` (or drop it) and re-run before judging capacity"
        if script
        else f"the service answers requests with `{name}` with server errors: validate the "
        "input and return 4xx; then re-run"
    )
    return Finding(
        kind=FindingClass.REQUEST_ATTRIBUTE,
        attribution=attribution,
        severity=Severity.MAJOR if major else Severity.MINOR,
        confidence=round(confidence, 2),
        headline=headline,
        evidence=tuple(evidence),
        counter_evidence=tuple(ruled_out),
        examples=c.examples(stages, op, c.is_failure),
        advice=advice,
        operation=op,
    )


def _script_checks(
    stages: list[StageResult], op: str, feature: str, client: float
) -> tuple[list[Evidence], int, bool]:
    """Evidence that it is not the infrastructure; how many checks passed; whether rising."""
    ruled: list[Evidence] = []
    passed = 0
    if client >= CLIENT_SHARE:
        passed += 1
        ruled.append(
            Evidence("client_errors", f"not server errors: {c.pct(client)} are 4xx", client)
        )
    counts = [c.op_counts(s, op, c.is_failure) for s in stages]
    rates = [c.ratio(f, f + o) for f, o in counts]
    rising = False
    if len(stages) >= 2:
        scores = [c.stage_load(s) or float(i) for i, s in enumerate(stages)]
        trend = trend_test([f for f, _ in counts], [f + o for f, o in counts], scores)
        rising = trend.p_rising < RISING_P
        by_stage = ", ".join(c.pct(r) for r in rates)
        if not rising:
            passed += 1
            ruled.append(
                Evidence(
                    "trend_p",
                    f"not load-related: failure rate by stage {by_stage} "
                    f"(ordinal trend {c.fmt_p(trend.p_rising)}, one-sided)",
                    trend.p_rising,
                )
            )
        else:
            ruled.append(
                Evidence(
                    "trend_p",
                    f"NOT ruled out — failures rise with load: {by_stage} "
                    f"(trend {c.fmt_p(trend.p_rising)})",
                    trend.p_rising,
                )
            )
    first_fail, _ = c.feature_counts(stages[0].diagnostics[op], feature, c.is_failure)
    if first_fail:
        passed += 1
        ruled.append(
            Evidence(
                "first_stage",
                f"present from the first stage `{stages[0].info.name}` "
                f"({c.describe_stage_load(stages[0])}): {first_fail:,} failures with the feature",
                float(first_fail),
            )
        )
    failed_ms = c.sample_latencies(stages, op, c.is_failure)
    ok_ms = c.sample_latencies(stages, op, lambda k: not c.is_failure(k) and k.startswith("ok"))
    if failed_ms and ok_ms:
        fast = median(failed_ms) <= FAST_FACTOR * median(ok_ms)
        passed += int(fast)
        verb = "fast-fail" if fast else "NOT fast: failures are slower"
        ruled.append(
            Evidence(
                "fast_fail",
                f"{verb}: failures median {median(failed_ms):,.1f} ms vs "
                f"{median(ok_ms):,.1f} ms successes (recorded examples)",
                median(failed_ms),
            )
        )
    return ruled, passed, rising


def _from_data(stages: list[StageResult], op: str, feature: str) -> bool:
    name = feature[2:].partition("=")[0]
    sources = [f for f in c.features_of(stages, op) if f.startswith(f"src:{name}@")]
    return bool(sources) and all(f.endswith(("@pool", "@feeder")) for f in sources)
