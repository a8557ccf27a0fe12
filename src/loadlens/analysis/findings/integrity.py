"""D9: a violated invariant on the service's data — a bug whatever the latency said.

One finding per invariant: an invariant checked after a stage and again at the end that failed
both times is one cause, so `merge` folds those checks into one finding that lists every moment
it failed (and the most violating rows of any check).
"""

from __future__ import annotations

from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MAX_EXAMPLES = 3
_NAME = "invariant"  # the evidence line that names the invariant a finding is about


def find(result: RunResult) -> list[Finding]:
    """One finding per violated check (checks that could not run are not findings)."""
    findings = []
    for invariant in result.invariants:
        if invariant.passed or invariant.error is not None:
            continue
        rows = "row" if invariant.violations == 1 else "rows"
        findings.append(
            Finding(
                kind=FindingClass.INTEGRITY,
                attribution=Attribution.SERVICE_BUG,
                severity=Severity.MAJOR,
                confidence=1.0,
                headline=(
                    f"CORRECTNESS VIOLATION — invariant `{invariant.name}` failed "
                    f"({invariant.when}): {invariant.violations:,} violating {rows}"
                ),
                evidence=(
                    Evidence(_NAME, f"invariant `{invariant.name}`"),
                    Evidence(
                        "violations",
                        f"{invariant.kind} check `{invariant.name}` at {invariant.when}: "
                        f"{invariant.violations:,} {rows}",
                        float(invariant.violations),
                    ),
                    *(
                        Evidence("row", ", ".join(f"{k} = {v}" for k, v in row.items()))
                        for row in invariant.examples[:MAX_EXAMPLES]
                    ),
                ),
                examples=tuple(dict(row) for row in invariant.examples[:MAX_EXAMPLES]),
                advice=(
                    "the service returned success but corrupted its data: look for "
                    "check-then-act races on the rows shown; NO-GO regardless of latency"
                ),
                stage=invariant.when.partition(":")[2] or None,
            )
        )
    return findings


def invariant_name(finding: Finding) -> str:
    """The name of the invariant an integrity finding is about."""
    line = next((e.text for e in finding.evidence if e.label == _NAME), finding.headline)
    return line.removeprefix("invariant ").strip("`")


def merge(group: list[Finding]) -> Finding:
    """The checks of one invariant that failed, as one finding naming every moment."""
    if len(group) == 1:
        return group[0]
    name = invariant_name(group[0])
    checks = [e for f in group for e in f.evidence if e.label == "violations"]
    worst = max(group, key=lambda f: max((e.value or 0.0) for e in f.evidence))
    most = int(max((e.value or 0.0) for e in checks))
    moments = ", ".join(e.text.rsplit(" at ", 1)[-1].rsplit(": ", 1)[0] for e in checks)
    rows = [e for e in worst.evidence if e.label == "row"]
    return Finding(
        kind=FindingClass.INTEGRITY,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MAJOR,
        confidence=1.0,
        headline=(
            f"CORRECTNESS VIOLATION — invariant `{name}` failed at {len(checks)} checks "
            f"({moments}): up to {most:,} violating rows"
        ),
        evidence=(Evidence(_NAME, f"invariant `{name}`"), *checks, *rows),
        examples=worst.examples,
        advice=worst.advice,
        stage=group[0].stage,
    )
