"""Findings: why requests failed or got slow, each with its evidence (docs/diagnosis.md).

`diagnose(result)` runs every diagnosis on a RunResult and returns its findings, most severe
first. Each diagnosis lives in its own module and needs only the result; a result without
diagnostics (older runs) or without failures simply yields fewer findings.

How it works. 503s that came with Retry-After are relabelled first (shedding.py), so that no
finding but the overload one counts them. Then every diagnosis runs, and findings that share a
cause become one: a violated invariant checked after a stage and at the end is one finding
listing every moment; a tail that is queueing is part of a saturation finding when there is
one, and a saturation is part of load shedding when the service shed load; the tail of an
operation whose latency drifts is part of the drift; a bare attribute
association on an operation whose chain is broken is left to the chain.
Findings that explain the service come first, by severity, then by CAUSE_ORDER (root causes
before their symptoms: a broken chain or a race explains latency and throughput, not the
reverse), then by confidence (not calibrated: a tie-breaker); measurement findings, a caveat
on all of them, come last whatever their severity (the verdict carries them: a major one makes
the run INCONCLUSIVE).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from loadlens.analysis.findings import (
    attribute,
    chain,
    contention,
    drift,
    error_pattern,
    integrity,
    measurement,
    nagle,
    race,
    ratelimit,
    saturation,
    shedding,
    slow_input,
    tail,
    unreachable,
)
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

DIAGNOSES: tuple[Callable[[RunResult], list[Finding]], ...] = (
    integrity.find,
    unreachable.find,
    measurement.find,
    chain.find,
    attribute.find,
    race.find,
    contention.find,
    ratelimit.find,
    saturation.find,
    drift.find,
    slow_input.find,
    nagle.find,
    tail.find,
)

# Within a severity: causes before the symptoms they produce.
CAUSE_ORDER: tuple[FindingClass, ...] = (
    FindingClass.INTEGRITY,
    FindingClass.BROKEN_CHAIN,
    FindingClass.RACE,
    FindingClass.REQUEST_ATTRIBUTE,
    FindingClass.CONTENTION,
    FindingClass.SLOW_INPUT,  # the input that makes an operation slow explains its tail
    FindingClass.LATENCY_FLOOR,
    FindingClass.DRIFT,  # a leak explains a later plateau, not the reverse
    FindingClass.LOAD_SHEDDING,
    FindingClass.SATURATION,
    FindingClass.LATENCY_TAIL,
    FindingClass.RATE_LIMIT,
    FindingClass.ERROR_PATTERN,  # what no cause above explains: a description, not a cause
    FindingClass.MEASUREMENT,  # after every other finding anyway (_order)
)


def diagnose(result: RunResult) -> list[Finding]:
    """Every finding on `result`, one per cause, most severe first."""
    relabelled = shedding.relabelled(result)
    findings: list[Finding] = []
    for run in DIAGNOSES:
        findings.extend(run(relabelled))
    merged = _merged(findings)
    # Before the merges: an operation folded into another's finding ("the same in ...") is
    # explained all the same.
    merged.extend(error_pattern.find(relabelled, findings))
    return sorted(merged, key=_order)


def _order(finding: Finding) -> tuple[bool, int, int, float]:
    kind = CAUSE_ORDER.index(finding.kind) if finding.kind in CAUSE_ORDER else len(CAUSE_ORDER)
    caveat = finding.kind is FindingClass.MEASUREMENT
    return (caveat, finding.severity.rank, kind, -finding.confidence)


def _merged(findings: list[Finding]) -> list[Finding]:
    # A shape mismatch or a broken capture explains an operation's failures better than a
    # bare attribute association on the same operation: keep the more specific one.
    chained = {f.operation for f in findings if f.kind is FindingClass.BROKEN_CHAIN}
    kept = [
        f
        for f in findings
        if not (f.kind is FindingClass.REQUEST_ATTRIBUTE and f.operation in chained)
    ]
    kept = _one_per_chain(_one_per_invariant(_attribute_over_race(kept)))
    kept = _tails_into_inputs(_tails_into_drift(kept))
    return _queueing_into_saturation(_one_queueing_tail(kept))


SEPARATES = 0.95  # an attribute on ≥ this share of failures, failing ≥ this share of its requests


def _separates(finding: Finding) -> bool:
    """Whether an attribute finding's feature alone tells failed requests from the rest."""
    values = {e.label: e.value for e in finding.evidence}
    coverage, fail_rate = values.get("coverage"), values.get("fail_given_feature")
    return (
        coverage is not None
        and fail_rate is not None
        and coverage >= SEPARATES
        and fail_rate >= SEPARATES
    )


def _attribute_over_race(findings: list[Finding]) -> list[Finding]:
    """A race needs concurrency to explain the failures; when a request attribute alone
    separates them (nearly all failures have it, nearly all requests with it fail), nothing is
    left to explain, and overlap only correlates with it (such requests may also be the ones in
    flight longer: seen with a 5xx on large bodies). The attribute is kept and the race is
    named in what was ruled out."""
    separating = {
        f.operation: f
        for f in findings
        if f.kind is FindingClass.REQUEST_ATTRIBUTE and f.operation and _separates(f)
    }
    races = [f for f in findings if f.kind is FindingClass.RACE and f.operation in separating]
    if not races:
        return findings
    replaced: dict[int, Finding] = {}
    for racing in races:
        attribute = separating[racing.operation or ""]
        coverage = next(e for e in attribute.evidence if e.label == "coverage")
        ruled_out = Evidence(
            "race",
            f"a race ({racing.headline.partition(' — ')[2]}): {coverage.text}, so concurrency is "
            "not needed to explain the failures",
            racing.confidence,
        )
        current = replaced.get(id(attribute), attribute)
        replaced[id(attribute)] = dataclasses.replace(
            current, counter_evidence=(*current.counter_evidence, ruled_out)
        )
    return [replaced.get(id(f), f) for f in findings if all(f is not r for r in races)]


def _one_per_invariant(findings: list[Finding]) -> list[Finding]:
    """An invariant violated after a stage and at the end is one finding naming both moments."""
    by_name: dict[str, list[Finding]] = {}
    for f in findings:
        if f.kind is FindingClass.INTEGRITY:
            by_name.setdefault(integrity.invariant_name(f), []).append(f)
    merged: dict[str, Finding] = {name: integrity.merge(group) for name, group in by_name.items()}
    out: list[Finding] = []
    for f in findings:
        if f.kind is not FindingClass.INTEGRITY:
            out.append(f)
            continue
        name = integrity.invariant_name(f)
        if name in merged:
            out.append(merged.pop(name))
    return out


_CHAIN_CAUSE = ("producer", "source")  # evidence that names a chain's variable and its origin


def _chain_cause(finding: Finding) -> str | None:
    line = next((e.text for e in finding.evidence if e.label in _CHAIN_CAUSE), None)
    return None if line is None else f"{finding.attribution}:{line.partition(', which')[0]}"


def _one_per_chain(findings: list[Finding]) -> list[Finding]:
    """Broken chains of several operations on one captured variable are one cause: one finding
    (the most severe) that lists every affected operation, with their evidence and examples."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        if f.kind is FindingClass.BROKEN_CHAIN and (cause := _chain_cause(f)) is not None:
            groups.setdefault(cause, []).append(f)
    dropped: list[Finding] = []
    replaced: dict[int, Finding] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        main = min(group, key=lambda f: f.severity.rank)
        others = [f for f in group if f is not main]
        also = ", ".join(f"`{f.operation}`" for f in others)
        lines = tuple(
            Evidence(e.label, f"`{f.operation}`: {e.text}", e.value)
            for f in others
            for e in f.evidence
            if e.label not in _CHAIN_CAUSE
        )
        replaced[id(main)] = dataclasses.replace(
            main,
            headline=f"{main.headline}; the same in {also}",
            evidence=main.evidence + lines,
            examples=(*main.examples[:2], *(x for f in others for x in f.examples[:1]))[:4],
        )
        dropped.extend(others)
    return [replaced.get(id(f), f) for f in findings if all(f is not d for d in dropped)]


def _tails_into_drift(findings: list[Finding]) -> list[Finding]:
    """An operation whose latency drifts up has a slow tail because of it: one finding."""
    drifting = {f.operation: f for f in findings if f.kind is FindingClass.DRIFT}
    tails = [
        f
        for f in findings
        if f.kind is FindingClass.LATENCY_TAIL and f.operation in drifting and f.operation
    ]
    out: list[Finding] = []
    for f in findings:
        if any(f is t for t in tails):
            continue
        lines = tuple(
            Evidence("folded_latency_tail", f"latency tail: {t.headline}")
            for t in tails
            if f.kind is FindingClass.DRIFT and t.operation == f.operation
        )
        out.append(dataclasses.replace(f, evidence=f.evidence + lines) if lines else f)
    return out


def _tails_into_inputs(findings: list[Finding]) -> list[Finding]:
    """A slow tail of an operation whose slowness an input explains (`slow_input`: requests
    with X are N× slower) is that input's symptom: one finding, the input's, named at the more
    severe of the two severities, with the tail's evidence and its slow examples."""
    slow_ops = {f.operation for f in findings if f.kind is FindingClass.SLOW_INPUT}
    tails: dict[str, Finding] = {
        f.operation: f
        for f in findings
        if f.kind is FindingClass.LATENCY_TAIL and f.operation and f.operation in slow_ops
    }
    if not tails:
        return findings
    out: list[Finding] = []
    folded: set[str | None] = set()
    for f in findings:
        if f.kind is FindingClass.LATENCY_TAIL and f.operation in tails:
            continue
        slow = f.kind is FindingClass.SLOW_INPUT and f.operation is not None
        tail = tails.get(f.operation or "") if slow else None
        if tail is None or f.operation in folded:
            out.append(f)
            continue
        folded.add(f.operation)
        severity = min((f.severity, tail.severity), key=lambda s: s.rank)
        line = Evidence("folded_latency_tail", f"latency tail: {tail.headline}")
        out.append(
            dataclasses.replace(
                f,
                severity=severity,
                evidence=(*f.evidence, line),
                examples=(*f.examples, *tail.examples)[:4],
            )
        )
    return out


def _one_queueing_tail(findings: list[Finding]) -> list[Finding]:
    """Queueing tails of several operations share one cause (the service queues): one finding
    naming every operation, at the most severe of their severities."""
    queueing = [
        f
        for f in findings
        if f.kind is FindingClass.LATENCY_TAIL
        and f.attribution is Attribution.SERVICE_CAPACITY
        and f.operation is not None  # the service-wide finding is one already
    ]
    if len(queueing) < 2:
        return findings
    worst = min(queueing, key=lambda f: f.severity.rank)
    ops = ", ".join(f"`{f.operation}`" for f in queueing)
    merged = dataclasses.replace(
        worst,
        headline=f"LATENCY TAIL (queueing) — {len(queueing)} operations queue: {ops}",
        evidence=tuple(
            Evidence(e.label, f"`{f.operation}`: {e.text}", e.value)
            for f in queueing
            for e in f.evidence
            if e.label in ("slow_mode", "load_trend")
        ),
        examples=tuple(x for f in queueing for x in f.examples)[:3],
        operation=None,
    )
    return [
        merged if f is worst else f
        for f in findings
        if all(f is not q for q in queueing) or f is worst
    ]


def _queueing_into_saturation(findings: list[Finding]) -> list[Finding]:
    """Capacity is one cause: a tail that grows with load is a saturation's symptom, and a
    saturation where the service sheds load is that shedding's; fold each into its cause."""
    for cause, symptom in (
        (FindingClass.SATURATION, FindingClass.LATENCY_TAIL),
        (FindingClass.LOAD_SHEDDING, FindingClass.SATURATION),
    ):
        findings = _fold(findings, cause, symptom)
    return findings


def _fold(findings: list[Finding], cause: FindingClass, symptom: FindingClass) -> list[Finding]:
    main = next((f for f in findings if f.kind is cause), None)
    if main is None:
        return findings
    folded = [f for f in findings if f.kind is symptom and _symptom_of(f, cause)]
    if not folded:
        return findings
    lines = tuple(
        Evidence(f"folded_{symptom.value}", f"{symptom.value.replace('_', ' ')}: {f.headline}")
        for f in folded
    )
    combined = dataclasses.replace(main, evidence=main.evidence + lines)
    return [combined if f is main else f for f in findings if all(f is not x for x in folded)]


def _symptom_of(finding: Finding, cause: FindingClass) -> bool:
    """Whether a capacity cause explains `finding`: a capacity symptom, or (for a saturation)
    the service-wide stalls note, a slow mode every operation shares that names no cause: while
    the service queues, every operation waits in the queue alike."""
    if finding.attribution is Attribution.SERVICE_CAPACITY:
        return True
    return (
        cause is FindingClass.SATURATION
        and finding.kind is FindingClass.LATENCY_TAIL
        and finding.operation is None
        and finding.severity is Severity.INFO
    )


__all__ = ["diagnose"]
