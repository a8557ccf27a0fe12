"""The verdict of a run: GO, NO-GO or INCONCLUSIVE, from its gates and its validity.

Order (docs/thresholds.md, "The verdict"): broken data (a violated invariant, lost writes) is
NO-GO whatever else happened. A lost worker (analysis/lost_workers.py: the planned load was not
delivered) makes it INCONCLUSIVE. A major MEASUREMENT or LOAD_GENERATOR finding (the numbers
cannot be trusted) makes the run INCONCLUSIVE. Then a FAILED gate, an unreachable target or a
major SERVICE_BUG finding (a race, leak-like drift, an input-dependent 5xx; never a finding
about latency alone, which the gates judge) gives NO-GO: gates
are judged against the generator's error bound (analysis/generator.py), so a FAILED gate
failed even with the bound subtracted, however busy the host was. Then an interrupted or
incomplete run, a gate whose bound straddles its target (UNCERTAIN), a gate without enough
samples to judge, or a saturated generator (its CPU at the `generator:` limit, or an open stage
that sent under 80 % of its planned arrivals: the planned load was not delivered, so a pass says
nothing) gives INCONCLUSIVE. Otherwise GO. A busy host is no
veto: it widens the bound, and the reasons name the bound and its cause when it decided.

TEST_SCRIPT, TEST_DATA and POLICY findings never decide the verdict by themselves; they, and
every other finding above info, are named in the reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from loadlens.analysis.gates import describe_result
from loadlens.analysis.generator import saturation, undelivered
from loadlens.analysis.lost_workers import lost_worker_reasons
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Finding, FindingClass, Severity
from loadlens.model.generator import GeneratorLimits
from loadlens.model.integrity import InvariantResult, ReconciliationResult
from loadlens.model.verdict import GateResult, GateStatus, Verdict, VerdictKind

# Findings about how slow requests were explain latency; whether that latency is acceptable is
# the gates' call (with the error bound), so these never give NO-GO by themselves.
_LATENCY_CLASSES = (FindingClass.LATENCY_TAIL, FindingClass.SLOW_INPUT, FindingClass.LATENCY_FLOOR)


def decide(
    result: RunResult,
    gate_results: Iterable[GateResult],
    *,
    stages_not_run: Sequence[str] = (),
    findings: Sequence[Finding] | None = None,
    limits: GeneratorLimits | None = None,
) -> Verdict:
    """The verdict on a run from its gate results and findings (default: the result's own);
    `limits`: the scenario's `generator:` block. The reasons say what decided it."""
    found = list(result.findings if findings is None else findings)
    gates = tuple(gate_results)
    failed = [g for g in gates if g.status is GateStatus.FAILED]
    insufficient = [g for g in gates if g.status is GateStatus.INSUFFICIENT]
    failed_stage = failed[0].stage if failed else None
    violated = [i for i in result.invariants if not i.passed and i.error is None]
    reconciled = result.reconciliation
    lost = reconciled is not None and reconciled.error is None and not reconciled.passed
    if violated or lost:
        # broken data is a service bug whatever the load generator did
        reasons = [_violation(i) for i in violated] + [describe_result(g) for g in failed]
        if lost and reconciled is not None:
            reasons.insert(0, _discrepancy(reconciled))
        return _verdict(VerdictKind.NO_GO, reasons, gates, stages_not_run, failed_stage)
    short = lost_worker_reasons(result)
    if short:  # the planned load was not delivered: no verdict on the service
        reasons = [*short, *(describe_result(g) for g in failed)]
        return _verdict(VerdictKind.INCONCLUSIVE, reasons, gates, stages_not_run, failed_stage)
    unmeasured = _major(found, Attribution.MEASUREMENT, Attribution.LOAD_GENERATOR)
    if unmeasured:
        reasons = [*(_named(f) for f in unmeasured), *(describe_result(g) for g in failed)]
        return _verdict(VerdictKind.INCONCLUSIVE, reasons, gates, stages_not_run, failed_stage)
    unreachable = [f for f in found if f.kind is FindingClass.UNREACHABLE]
    bugs = [
        f
        for f in _major(found, Attribution.SERVICE_BUG)
        if f.kind not in (FindingClass.INTEGRITY, FindingClass.UNREACHABLE, *_LATENCY_CLASSES)
    ]
    bugs = unreachable + bugs
    if bugs or failed:
        reasons = [*(_named(f) for f in bugs), *(describe_result(g) for g in failed)]
        reasons.extend(_named(f) for f in found if f not in bugs and _mentioned(f))
        return _verdict(VerdictKind.NO_GO, reasons, gates, stages_not_run, failed_stage)
    reasons = []
    if result.interrupted:
        reasons.append("the run was interrupted before the plan finished")
    elif not result.complete or stages_not_run:
        missing = ", ".join(f"`{s}`" for s in stages_not_run)
        reasons.append(
            "the run is incomplete" + (f": stages not run: {missing}" if missing else "")
        )
    reasons.extend(describe_result(g) for g in gates if g.status is GateStatus.UNCERTAIN)
    reasons.extend(
        f"the planned load was not delivered: {note}"
        for note in saturation(result, limits) + undelivered(result)
    )
    reasons.extend(describe_result(g) for g in insufficient)
    reasons.extend(
        f"invariant `{i.name}` could not be checked: {i.error}"
        for i in result.invariants
        if i.error is not None
    )
    if reconciled is not None and reconciled.error is not None:
        reasons.append(f"the writes could not be reconciled: {reconciled.error}")
    if reasons:
        reasons.extend(_named(f) for f in found if _mentioned(f))
        return _verdict(VerdictKind.INCONCLUSIVE, reasons, gates, stages_not_run, None)
    if not gates:
        reasons = ["no gates were defined"]
    else:
        unjudged = [g for g in gates if g.status is GateStatus.NOT_AVAILABLE]
        judged = len(gates) - len(unjudged)
        defaults = " (the default gates: the plan defined none)" if gates[0].default else ""
        reasons = [f"all {judged} gates passed{defaults}"]
        reasons.extend(describe_result(g) for g in unjudged)
    if result.invariants:
        reasons.append(f"all {len(result.invariants)} invariant checks held")
    if reconciled is not None:
        reasons.append(
            f"all {reconciled.acknowledged_writes:,} acknowledged writes are in the database"
        )
    reasons.extend(_named(f) for f in found if _mentioned(f))
    return _verdict(VerdictKind.GO, reasons, gates, stages_not_run, None)


def _discrepancy(reconciled: ReconciliationResult) -> str:
    parts = []
    if reconciled.lost:
        parts.append(
            f"{reconciled.lost:,} entities lost acknowledged writes "
            f"(short by {reconciled.lost_amount:g} in all)"
        )
    if reconciled.phantom:
        parts.append(
            f"{reconciled.phantom:,} entities gained writes nobody acknowledged "
            f"(over by {reconciled.phantom_amount:g})"
        )
    return (
        f"reconciliation of {reconciled.acknowledged_writes:,} acknowledged writes: "
        + "; ".join(parts)
    )


def _major(findings: Sequence[Finding], *attributions: Attribution) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.MAJOR and f.attribution in attributions]


def _mentioned(finding: Finding) -> bool:
    # POLICY and script findings are always named; others when they are more than info
    if finding.attribution in (Attribution.POLICY, Attribution.TEST_SCRIPT, Attribution.TEST_DATA):
        return True
    return finding.severity is not Severity.INFO


def _named(finding: Finding) -> str:
    return f"finding [{finding.severity.value}]: {finding.headline}"


def _violation(invariant: InvariantResult) -> str:
    rows = "row" if invariant.violations == 1 else "rows"
    return (
        f"invariant `{invariant.name}` violated ({invariant.when}): "
        f"{invariant.violations} violating {rows}"
    )


def _verdict(
    kind: VerdictKind,
    reasons: list[str],
    gates: tuple[GateResult, ...],
    stages_not_run: Sequence[str],
    failed_stage: str | None,
) -> Verdict:
    return Verdict(kind, tuple(reasons), gates, tuple(stages_not_run), failed_stage)
