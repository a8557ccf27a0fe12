"""D1: failures explained by a request attribute, e.g. the script's `cursor` parameter.

For each operation with at least MIN_FAILURES failures, every input feature (query keys and
literal values, body keys and literal values, path segments, the flow, variables' shapes and
values, the request size's bucket, and "request ≥ 2^K bytes" for each observed bucket K) gets a
2×2 table (present/absent × failed/ok) and a one-sided Fisher test, Benjamini–Hochberg
corrected across the operation's features. A feature explains the failures when the corrected
p < SIGNIFICANCE, it covers ≥ MIN_COVERAGE of the failures and it raises the failure rate by
≥ MIN_INCREASE (Liblit's Increase, against the requests without it). Among those, a value is
preferred to a key, a key to a shape, a shape to the flow (the most specific claim).

An operation whose requests all share the culprit (a literal `sort=price` in one of four
flows, each its own operation) has no contrast inside it: for operations left unexplained,
value features (literal query/body values, path segments, variable values) are also tested
across every operation of the run, and kept only when requests with the value fail at least
POOLED_FAIL_RATE of the time.

Then the script/infrastructure tests of docs/diagnosis.md D1: 4xx, no rising trend with load
(Cochran–Armitage across stages), fast failures, present from the first stage. A 5xx that
follows an input is the service's bug whatever produced the input: the advice is about the
service.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import benjamini_hochberg, fisher_exact, trend_test, wilson
from loadlens.metrics.feature_keys import VALUE_KINDS, Feature, FeatureKind, format_bytes
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_SUPPORT = 5  # requests with, and without, the feature
MIN_COVERAGE = 0.9  # P(feature | fail)
MIN_INCREASE = 0.3  # P(fail | feature) − P(fail | no feature)
POOLED_FAIL_RATE = 0.9  # across operations, requests with the value fail at least this often
MAJOR_SHARE = 0.05  # explained failures above this share of the operation's requests: major
RISING_P = 0.01  # a one-sided trend p below this means the failures rise with load
CLIENT_SHARE = 0.8  # this share of 4xx among the explained failures makes it the script's
FAST_FACTOR = 1.5  # failures no slower than this × the successes' median are "fast"

# The most specific claim first, when several features explain the same failures.
_ORDER = (
    FeatureKind.QUERY_VALUE,
    FeatureKind.BODY_VALUE,
    FeatureKind.VALUE,
    FeatureKind.REQUEST_SIZE,
    FeatureKind.PATH_SEGMENT,
    FeatureKind.QUERY_KEY,
    FeatureKind.BODY_KEY,
    FeatureKind.VALUE_SHAPE,
    FeatureKind.FLOW,
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feature tested against the failures: one recorded feature, or a union of request-size
    buckets ("request ≥ 2^K bytes")."""

    label: str  # as evidence prints it: the feature's key, or `rq>=K`
    feature: Feature
    keys: tuple[str, ...]  # the recorded features whose requests it counts (disjoint)
    at_least: bool = False  # a size union: the bucket and every larger one

    def describe(self) -> str:
        """`sort=price`, `request of 4 KiB or more`."""
        if self.at_least:
            low = self.feature.size_bytes
            return f"requests of {format_bytes(low[0] if low else 0)} or more"
        return self.feature.describe()

    @property
    def rank(self) -> int:
        """Its kind's place in `_ORDER`."""
        return _ORDER.index(self.feature.kind)


def find(result: RunResult) -> list[Finding]:
    """One finding per operation whose failures a request feature explains."""
    findings: list[Finding] = []
    unexplained: list[str] = []
    for op in result.operations:
        stages = c.diagnosed_stages(result, op)
        if not stages:
            continue
        outcomes = c.op_outcomes(stages, op)
        if sum(n for k, n in outcomes.items() if c.is_failure(k)) < c.MIN_FAILURES:
            continue
        best = _best(stages, [op], _candidates(stages, op))
        if best is not None:
            findings.append(_finding(stages, [op], outcomes, *best))
        else:
            unexplained.append(op)
    if unexplained:
        findings.extend(_pooled(result, unexplained))
    return findings


def _candidates(stages: list[StageResult], op: str) -> list[Candidate]:
    out: list[Candidate] = []
    sizes: list[Feature] = []
    for key, feature in c.parsed_features(stages, op):
        if feature.kind in _ORDER:
            out.append(Candidate(key, feature, (key,)))
        if feature.kind is FeatureKind.REQUEST_SIZE:
            sizes.append(feature)
    sizes.sort(key=lambda f: int(f.name))
    for index in range(1, len(sizes)):
        keys = tuple(f.key for f in sizes[index:])
        out.append(Candidate(f"rq>={sizes[index].name}", sizes[index], keys, at_least=True))
    return out


def _table(stages: list[StageResult], ops: list[str], candidate: Candidate) -> c.Table:
    wf = wo = tf = to = 0
    for op in ops:
        for stage in stages:
            if op not in stage.diagnostics or op not in stage.operations:
                continue
            fail, ok = c.op_counts(stage, op, c.is_failure)
            tf, to = tf + fail, to + ok
            for key in candidate.keys:
                f_fail, f_ok = c.feature_counts(stage.diagnostics[op], key, c.is_failure)
                wf, wo = wf + f_fail, wo + f_ok
    return c.Table(wf, wo, max(tf - wf, 0), max(to - wo, 0))


Best = tuple[Candidate, c.Table, float, int]


def _best(
    stages: list[StageResult], ops: list[str], candidates: list[Candidate], min_rate: float = 0.0
) -> Best | None:
    tested: list[tuple[Candidate, c.Table, float]] = []
    for candidate in candidates:
        t = _table(stages, ops, candidate)
        if t.with_feature < MIN_SUPPORT or t.without_feature < MIN_SUPPORT:
            continue
        p = fisher_exact(t.with_fail, t.with_ok, t.without_fail, t.without_ok, "greater")
        tested.append((candidate, t, p))
    adjusted = benjamini_hochberg([p for _, _, p in tested])
    kept = []
    for (candidate, t, _), p in zip(tested, adjusted, strict=True):
        coverage = c.ratio(t.with_fail, t.failures)
        rate = c.ratio(t.with_fail, t.with_feature)
        increase = rate - c.ratio(t.without_fail, t.without_feature)
        if (
            p < c.SIGNIFICANCE
            and coverage >= MIN_COVERAGE
            and increase >= MIN_INCREASE
            and rate >= min_rate
        ):
            order = (-round(coverage, 3), -round(increase, 3), candidate.rank, candidate.label)
            kept.append((order, candidate, t, p))
    if not kept:
        return None
    _, candidate, table, p = min(kept, key=lambda k: k[0])
    return candidate, table, p, len(tested)


def _pooled(result: RunResult, ops: list[str]) -> list[Finding]:
    """Value features tested across every operation, for operations without a contrast."""
    stages = c.ran_stages(result)
    every = [op for op in result.operations if c.diagnosed_stages(result, op)]
    candidates: dict[str, Candidate] = {}
    for op in ops:
        for key, feature in c.parsed_features(c.diagnosed_stages(result, op), op):
            if feature.kind in VALUE_KINDS:
                candidates[key] = Candidate(key, feature, (key,))
    best = _best(stages, every, list(candidates.values()), POOLED_FAIL_RATE)
    if best is None:
        return []
    candidate = best[0]
    carriers = [
        op
        for op in every
        if any(
            candidate.label in s.diagnostics[op].features.counts
            for s in stages
            if op in s.diagnostics
        )
    ]
    outcomes: dict[str, int] = {}
    for op in carriers:
        for key, n in c.op_outcomes(stages, op).items():
            outcomes[key] = outcomes.get(key, 0) + n
    return [_finding(stages, every, outcomes, *best, carriers=carriers)]


def _finding(
    stages: list[StageResult],
    ops: list[str],
    outcomes: dict[str, int],
    candidate: Candidate,
    t: c.Table,
    p: float,
    tests: int,
    carriers: list[str] | None = None,
) -> Finding:
    feature = candidate.label
    shown = carriers or ops  # the operations whose failures the finding is about
    op = max(
        shown,
        key=lambda o: sum(n for k, n in c.op_outcomes(stages, o).items() if c.is_failure(k)),
    )
    requests = t.requests
    fail_rate = c.ratio(t.failures, requests)
    share = c.ratio(t.with_feature, requests)
    p_with = c.ratio(t.with_fail, t.with_feature)
    p_without = c.ratio(t.without_fail, t.without_feature)
    lo_with, hi_with = wilson(t.with_fail, t.with_feature)
    lo_without, hi_without = wilson(t.without_fail, t.without_feature)
    by_outcome: dict[str, int] = {}
    for o in ops:
        for stage in stages:
            if o not in stage.diagnostics:
                continue
            for key in candidate.keys:
                for outcome, n in stage.diagnostics[o].features.counts.get(key, {}).items():
                    if c.is_failure(outcome):
                        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
    client = c.ratio(
        sum(n for k, n in by_outcome.items() if c.is_client_error(k)), sum(by_outcome.values())
    )
    statuses = c.outcome_summary(by_outcome, c.is_failure)
    scope = ""
    if carriers:
        sent_by = ", ".join(f"`{o}`" for o in carriers)
        scope = f" across all {len(ops)} operations (only {sent_by} sent it)"
    evidence = [
        Evidence(
            "feature_share",
            f"`{feature}` present in {c.pct(share)} of requests ({t.with_feature:,}/{requests:,})"
            + scope,
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
    ruled_out, checks_passed, rising = _script_checks(stages, op, candidate, client)
    script = client >= CLIENT_SHARE
    attribution = Attribution.TEST_SCRIPT if script else Attribution.SERVICE_BUG
    variable = candidate.feature.kind in (FeatureKind.VALUE_SHAPE, FeatureKind.VALUE)
    if script and variable and _from_data(stages, op, candidate):
        attribution = Attribution.TEST_DATA
    confidence = min(0.99, 0.5 + 0.1 * checks_passed + (0.09 if p < 1e-6 else 0.0))
    explained = c.ratio(t.with_fail, requests)
    if carriers:  # the share of the operations that sent the value, not of the whole run
        carried = sum(sum(c.op_outcomes(stages, o).values()) for o in carriers)
        explained = c.ratio(t.with_fail, carried)
    major = explained >= MAJOR_SHARE and not (script and rising)
    what = "script or data fault" if script else "input-dependent server error"
    described = candidate.describe()
    covered = c.pct(c.ratio(t.with_fail, t.failures))
    if script:
        headline = (
            f"{attribution.label} ({what}) — `{op}`: {c.pct(fail_rate)} of requests failed "
            f"({t.failures:,}/{requests:,}), {statuses}; {covered} of failures had `{feature}`"
        )
    else:
        headline = (
            f"{attribution.label} ({what}) — the service fails on {described}: in `{op}`, "
            f"{c.pct(p_with)} of requests with it failed ({t.with_fail:,}/{t.with_feature:,}, "
            f"{statuses}) vs {c.pct(p_without)} without; {covered} of failures had `{feature}`"
        )
    name = candidate.feature.name
    advice = (
        f"fix how the script sets `{name}` (or drop it) and re-run before judging capacity"
        if script
        else f"the service answers requests with {described} with server errors: find the "
        "code path that input takes (its handler's logs and stack trace at these times), "
        "validate the input and return 4xx if it is invalid; then re-run"
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
    stages: list[StageResult], op: str, candidate: Candidate, client: float
) -> tuple[list[Evidence], int, bool]:
    """Evidence that it is not the infrastructure; how many checks passed; whether rising."""
    stages = [s for s in stages if op in s.diagnostics and op in s.operations]
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
    first_fail = 0
    if stages:
        for key in candidate.keys:
            first_fail += c.feature_counts(stages[0].diagnostics[op], key, c.is_failure)[0]
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


def _from_data(stages: list[StageResult], op: str, candidate: Candidate) -> bool:
    sources = [
        f.value
        for _, f in c.parsed_features(stages, op)
        if f.kind is FeatureKind.SOURCE and f.name == candidate.feature.name
    ]
    return bool(sources) and all(s in ("pool", "feeder") for s in sources)
