"""D3b: contention — optimistic-concurrency conflicts (409 / 412 / 423) that rise with overlap.

Many users updating one record with `If-Match` (or a version field) get 412 / 409 when another
update won; that is the service working as designed, under a hot spot the workload created.
It is told apart from a race (5xx: the service broke under concurrency, `race.py`) and from a
script fault (4xx on every try, whatever the concurrency: `attribute.py`).

Per operation with at least MIN_CONFLICTS conflicts (expected by the scenario or not), two tests
of "conflicts follow concurrency", either suffices:
- overlap: for each `overlap:ENTITY` feature (another request with the same value of a variable,
  or a write to the same literal URL, was in flight meanwhile), a one-sided Fisher test of
  conflict vs overlap, Benjamini–Hochberg corrected; kept when the adjusted p < SIGNIFICANCE
  and the conflict rate is ≥ MIN_INCREASE higher with overlap;
- load: with ≥ 2 stages, a Cochran–Armitage trend of the conflict rate rising with the stages'
  load (one-sided p < SIGNIFICANCE), the first stage's rate below half the last's.

The hot spot is named when one value of a variable (`val:VAR=VALUE`) or one literal URL carries
≥ HOT_SHARE of the conflicts. Conflicts the scenario expects are `info` ("expected
contention"); unexpected ones are `minor`, or `major` when ≥ MAJOR_SHARE of the operation's
requests. Attribution: service capacity (one record serialises its writers).
"""

from __future__ import annotations

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import benjamini_hochberg, fisher_exact, trend_test, wilson
from loadlens.metrics.feature_keys import FeatureKind
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_CONFLICTS = 10
MIN_INCREASE = 0.05  # conflict rate with overlap − without
HOT_SHARE = 0.8
MAJOR_SHARE = 0.2


def find(result: RunResult) -> list[Finding]:
    """One finding per operation whose conflicts follow concurrent use of an entity."""
    findings = []
    for op in result.operations:
        stages = c.diagnosed_stages(result, op)
        if not stages:
            continue
        outcomes = c.op_outcomes(stages, op)
        if sum(n for k, n in outcomes.items() if c.is_conflict(k)) < MIN_CONFLICTS:
            continue
        found = _finding(stages, op, outcomes)
        if found is not None:
            findings.append(found)
    return findings


def _conflict_table(stages: list[StageResult], op: str, feature: str) -> c.Table:
    """The 2×2 table of `feature` × conflict / any other response."""
    wf = wo = tf = to = 0
    for stage in stages:
        outcomes = stage.operations[op].outcomes
        conflicts = sum(n for k, n in outcomes.items() if c.is_conflict(k))
        tf, to = tf + conflicts, to + sum(outcomes.values()) - conflicts
        by = stage.diagnostics[op].features.counts.get(feature, {})
        f_conflicts = sum(n for k, n in by.items() if c.is_conflict(k))
        wf, wo = wf + f_conflicts, wo + sum(by.values()) - f_conflicts
    return c.Table(wf, wo, max(tf - wf, 0), max(to - wo, 0))


def _overlap(stages: list[StageResult], op: str) -> tuple[str, c.Table, float] | None:
    tested = []
    for key, feature in c.parsed_features(stages, op):
        if feature.kind is not FeatureKind.OVERLAP:
            continue
        t = _conflict_table(stages, op, key)
        if t.with_feature == 0 or t.without_feature == 0:
            continue
        p = fisher_exact(t.with_fail, t.with_ok, t.without_fail, t.without_ok, "greater")
        tested.append((feature.name, t, p))
    adjusted = benjamini_hochberg([p for _, _, p in tested])
    best = None
    for (name, t, _), p in zip(tested, adjusted, strict=True):
        increase = c.ratio(t.with_fail, t.with_feature) - c.ratio(t.without_fail, t.without_feature)
        if p < c.SIGNIFICANCE and increase >= MIN_INCREASE and (best is None or p < best[2]):
            best = (name, t, p)
    return best


def _trend(stages: list[StageResult], op: str) -> tuple[float, str, bool] | None:
    if len(stages) < 2:
        return None
    counts, totals = [], []
    for stage in stages:
        outcomes = stage.operations[op].outcomes
        counts.append(sum(n for k, n in outcomes.items() if c.is_conflict(k)))
        totals.append(sum(outcomes.values()))
    scores = [c.stage_load(s) or float(i) for i, s in enumerate(stages)]
    trend = trend_test(counts, totals, scores)
    rates = [c.ratio(n, t) for n, t in zip(counts, totals, strict=True)]
    by_stage = ", ".join(
        f"{c.pct(r)} @ {c.describe_stage_load(s)}" for r, s in zip(rates, stages, strict=True)
    )
    rising = trend.p_rising < c.SIGNIFICANCE and rates[0] < rates[-1] / 2
    return trend.p_rising, by_stage, rising


def _hot_spot(stages: list[StageResult], op: str, conflicts: int, literal: str | None) -> str:
    if literal is not None and literal.startswith("/"):
        return f"the literal URL `{literal}`, written by every user"
    best = ("", 0)
    for key, feature in c.parsed_features(stages, op):
        if feature.kind is not FeatureKind.VALUE:
            continue
        n = sum(
            sum(
                v
                for k, v in s.diagnostics[op].features.counts.get(key, {}).items()
                if c.is_conflict(k)
            )
            for s in stages
        )
        if n > best[1]:
            best = (f"`{feature.name}={feature.value}`", n)
    if best[1] and c.ratio(best[1], conflicts) >= HOT_SHARE:
        return f"{best[0]} ({c.pct(c.ratio(best[1], conflicts))} of the conflicts)"
    return ""


def _finding(stages: list[StageResult], op: str, outcomes: dict[str, int]) -> Finding | None:
    overlap = _overlap(stages, op)
    trend = _trend(stages, op)
    rising = trend is not None and trend[2]
    if overlap is None and not rising:
        return None
    requests = sum(outcomes.values())
    conflicts = sum(n for k, n in outcomes.items() if c.is_conflict(k))
    unexpected = sum(n for k, n in outcomes.items() if c.is_unexpected_conflict(k))
    statuses = c.outcome_summary(outcomes, c.is_conflict)
    evidence: list[Evidence] = [
        Evidence(
            "conflicts",
            f"{conflicts:,} of {requests:,} requests ({c.pct(c.ratio(conflicts, requests))}) "
            f"got a conflict: {statuses}"
            + (f"; {unexpected:,} of them not expected by the scenario" if unexpected else ""),
            c.ratio(conflicts, requests),
        )
    ]
    entity = None
    if overlap is not None:
        entity, t, p = overlap
        lo, hi = wilson(t.with_fail, t.with_feature)
        evidence += [
            Evidence(
                "conflict_given_overlap",
                f"conflict rate {c.pct(c.ratio(t.with_fail, t.with_feature))} [Wilson "
                f"{c.pct(lo)}–{c.pct(hi)}] when another request on the same `{entity}` was in "
                f"flight ({t.with_fail:,}/{t.with_feature:,}) vs "
                f"{c.pct(c.ratio(t.without_fail, t.without_feature))} without "
                f"({t.without_fail:,}/{t.without_feature:,})",
                c.ratio(t.with_fail, t.with_feature),
            ),
            Evidence("fisher_p", f"Fisher exact {c.fmt_p(p)} (one-sided)", p),
        ]
    if trend is not None:
        p_rising, by_stage, _ = trend
        verdict = "rising with load" if rising else "not clearly rising with load"
        evidence.append(
            Evidence(
                "trend_p",
                f"{verdict}: {by_stage} (ordinal trend {c.fmt_p(p_rising)}, one-sided)",
                p_rising,
            )
        )
    for text, n in c.templates(stages, op, c.is_conflict)[:1]:
        evidence.append(Evidence("template", f"response template ×{n:,}: {text}", float(n)))
    hot = _hot_spot(stages, op, conflicts, entity)
    if hot:
        evidence.append(Evidence("hot_spot", f"the conflicts concentrate on {hot}"))
    server_errors = sum(n for k, n in outcomes.items() if c.is_server_error(k))
    counter = (
        Evidence(
            "not_a_race",
            f"not a race: the service answered with conflicts, not server errors "
            f"({server_errors:,} × 5xx in `{op}`)",
            float(server_errors),
        ),
    )
    share = c.ratio(unexpected, requests)
    severity = Severity.INFO
    if unexpected:
        severity = Severity.MAJOR if share >= MAJOR_SHARE else Severity.MINOR
    what = "hot spot" if unexpected else "expected contention"
    where = hot or (f"one `{entity}`" if entity else "shared entities")
    return Finding(
        kind=FindingClass.CONTENTION,
        attribution=Attribution.SERVICE_CAPACITY,
        severity=severity,
        confidence=0.9 if overlap is not None and rising else 0.8,
        headline=(
            f"SERVICE CAPACITY ({what}) — `{op}`: {c.pct(c.ratio(conflicts, requests))} "
            f"optimistic-concurrency conflicts ({statuses}) when users write {where} "
            "concurrently"
        ),
        evidence=tuple(evidence),
        counter_evidence=counter,
        examples=c.examples(stages, op, c.is_conflict),
        advice=(
            "many users update the same record and all but one lose: if the real workload "
            "does the same, expect these conflicts and retry them (re-read, re-apply); if not, "
            "spread the scenario's writes over more records. A conflict rate that grows with "
            "users caps the throughput of this record"
        ),
        operation=op,
    )
