"""The verdict of a run: GO, NO-GO or INCONCLUSIVE, from its gates and its validity.

Order (docs/thresholds.md): first validity, since a wrong GO or NO-GO is worse than none.
If the generator, not the service, was the bottleneck, the run is INCONCLUSIVE whatever the
gates say. Then a FAILED gate gives NO-GO. Then an interrupted or incomplete run, or a gate
without enough samples to judge, gives INCONCLUSIVE. Otherwise GO.

Findings (analysis/findings, docs/diagnosis.md) weigh in: a major MEASUREMENT or
LOAD_GENERATOR finding makes the run INCONCLUSIVE like a busy generator; a major SERVICE_BUG
finding (a race, leak-like drift, an input-dependent 5xx) gives NO-GO like a failed gate.
TEST_SCRIPT, TEST_DATA and POLICY findings never decide the verdict by themselves; they, and
every other finding above info, are named in the reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from loadlens.analysis.gates import describe_result
from loadlens.analysis.lost_workers import lost_worker_reasons
from loadlens.metrics.result import RunResult, SeriesPoint
from loadlens.model.finding import Attribution, Finding, Severity
from loadlens.model.integrity import InvariantResult, ReconciliationResult
from loadlens.model.verdict import GateResult, GateStatus, Verdict, VerdictKind

# When the generator counts as the bottleneck (see docs/thresholds.md, "Validity").
BUSY_CPU_PERCENT = 90.0  # a worker at or above this CPU in a second is saturated
BUSY_SECONDS_FRACTION = 0.20  # ... in more than this fraction of a stage's seconds
MAX_LOOP_LAG_MS = 50.0  # any event-loop lag above this in a stage
# Late iterations (started > 2 ms after their time) above this fraction of a stage's requests.
# A few late starts on a busy machine cost a few milliseconds each; a starved generator shows
# far more, together with CPU or loop lag.
MAX_LATE_FRACTION = 0.05
# ... and at least this many: one scheduling hiccup of a few ms on a shared machine makes a
# handful of arrivals late, which says nothing about a whole short burst.
MIN_LATE = 10
_GENERATOR = Attribution.LOAD_GENERATOR  # its major findings repeat generator_problems


def generator_problems(result: RunResult) -> list[str]:
    """Why the generator, not the service, may have been the bottleneck; empty if it was not."""
    problems: list[str] = []
    by_stage: dict[int, list[SeriesPoint]] = {}
    for point in result.series:
        by_stage.setdefault(point.stage, []).append(point)
    names = {stage.info.index: stage.info.name for stage in result.stages}
    requests = {stage.info.index: stage.total.count for stage in result.stages}
    for index, points in sorted(by_stage.items()):
        name = names.get(index, str(index))
        cpus = [p.health.cpu_percent / max(p.workers, 1) for p in points]
        busy = sum(1 for cpu in cpus if cpu >= BUSY_CPU_PERCENT)
        if busy > BUSY_SECONDS_FRACTION * len(points):
            problems.append(
                f"stage `{name}`: worker CPU ≥ {BUSY_CPU_PERCENT:.0f} % in {busy} of "
                f"{len(points)} seconds (max {max(cpus):.0f} %)"
            )
        lag = max(p.health.loop_lag_ms for p in points)
        if lag > MAX_LOOP_LAG_MS:
            problems.append(f"stage `{name}`: event-loop lag up to {lag:,.0f} ms")
        late = sum(p.health.late for p in points)
        total = requests.get(index, 0)
        if total and late > MAX_LATE_FRACTION * total and late >= MIN_LATE:
            problems.append(
                f"stage `{name}`: {late:,} iterations started late "
                f"({late / total:.1%} of {total:,} requests)"
            )
    return problems


def decide(
    result: RunResult,
    gate_results: Iterable[GateResult],
    *,
    stages_not_run: Sequence[str] = (),
    findings: Sequence[Finding] | None = None,
) -> Verdict:
    """The verdict on a run from its gate results and findings (default: the result's own);
    the reasons say what decided it."""
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
    if result.lost_workers:  # the planned load was not delivered: no verdict on the service
        reasons = [*lost_worker_reasons(result), *(describe_result(g) for g in failed)]
        return _verdict(VerdictKind.INCONCLUSIVE, reasons, gates, stages_not_run, failed_stage)
    invalid = generator_problems(result)
    unmeasured = _major(found, Attribution.MEASUREMENT, Attribution.LOAD_GENERATOR)
    if invalid or unmeasured:
        reasons = [
            *(
                ["the generator, not the service, was the bottleneck: " + "; ".join(invalid)]
                if invalid
                else []
            ),
            *(_named(f) for f in unmeasured if not (invalid and f.attribution is _GENERATOR)),
            *(describe_result(g) for g in failed),
        ]
        return _verdict(VerdictKind.INCONCLUSIVE, reasons, gates, stages_not_run, failed_stage)
    bugs = [f for f in _major(found, Attribution.SERVICE_BUG) if f.kind.value != "integrity"]
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
        reasons = [f"all {len(gates) - len(unjudged)} gates passed"]
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
