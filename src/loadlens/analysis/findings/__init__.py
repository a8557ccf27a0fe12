"""Findings: why requests failed or got slow, each with its evidence (docs/diagnosis.md).

`diagnose(result)` runs every diagnosis on a RunResult and returns its findings, most severe
first. Each diagnosis lives in its own module and needs only the result; a result without
diagnostics (older runs) or without failures simply yields fewer findings.

How it works. 503s that came with Retry-After are relabelled first (shedding.py), so that no
finding but the overload one counts them. Then every diagnosis runs, and findings that share a
cause become one: a violated invariant checked after a stage and at the end is one finding
listing every moment; a tail that is queueing is part of a saturation finding when there is
one, and a saturation is part of load shedding when the service shed load; a bare attribute
association on an operation whose chain is broken is left to the chain.
Findings are ordered by severity, then by CAUSE_ORDER (root causes before their symptoms: a
broken chain or a race explains latency and throughput, not the reverse), then by confidence
(not calibrated: only a tie-breaker).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from loadlens.analysis.findings import (
    attribute,
    chain,
    drift,
    integrity,
    measurement,
    nagle,
    race,
    ratelimit,
    saturation,
    shedding,
    tail,
)
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass

DIAGNOSES: tuple[Callable[[RunResult], list[Finding]], ...] = (
    integrity.find,
    measurement.find,
    chain.find,
    attribute.find,
    race.find,
    ratelimit.find,
    saturation.find,
    drift.find,
    nagle.find,
    tail.find,
)

# Within a severity: causes before the symptoms they produce.
CAUSE_ORDER: tuple[FindingClass, ...] = (
    FindingClass.MEASUREMENT,
    FindingClass.INTEGRITY,
    FindingClass.BROKEN_CHAIN,
    FindingClass.RACE,
    FindingClass.REQUEST_ATTRIBUTE,
    FindingClass.LATENCY_FLOOR,
    FindingClass.LOAD_SHEDDING,
    FindingClass.SATURATION,
    FindingClass.DRIFT,
    FindingClass.LATENCY_TAIL,
    FindingClass.RATE_LIMIT,
)


def diagnose(result: RunResult) -> list[Finding]:
    """Every finding on `result`, one per cause, most severe first."""
    relabelled = shedding.relabelled(result)
    findings: list[Finding] = []
    for run in DIAGNOSES:
        findings.extend(run(relabelled))
    return sorted(_merged(findings), key=_order)


def _order(finding: Finding) -> tuple[int, int, float]:
    kind = CAUSE_ORDER.index(finding.kind) if finding.kind in CAUSE_ORDER else len(CAUSE_ORDER)
    return (finding.severity.rank, kind, -finding.confidence)


def _merged(findings: list[Finding]) -> list[Finding]:
    # A shape mismatch or a broken capture explains an operation's failures better than a
    # bare attribute association on the same operation: keep the more specific one.
    chained = {f.operation for f in findings if f.kind is FindingClass.BROKEN_CHAIN}
    kept = [
        f
        for f in findings
        if not (f.kind is FindingClass.REQUEST_ATTRIBUTE and f.operation in chained)
    ]
    kept = _one_per_invariant(kept)
    return _queueing_into_saturation(kept)


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
    folded = [
        f for f in findings if f.kind is symptom and f.attribution is Attribution.SERVICE_CAPACITY
    ]
    if not folded:
        return findings
    lines = tuple(
        Evidence(f"folded_{symptom.value}", f"{symptom.value.replace('_', ' ')}: {f.headline}")
        for f in folded
    )
    combined = dataclasses.replace(main, evidence=main.evidence + lines)
    return [combined if f is main else f for f in findings if all(f is not x for x in folded)]


__all__ = ["diagnose"]
