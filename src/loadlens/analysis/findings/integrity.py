"""D9: a violated invariant on the service's data — a bug whatever the latency said."""

from __future__ import annotations

from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MAX_EXAMPLES = 3


def find(result: RunResult) -> list[Finding]:
    """One finding per violated invariant (checks that could not run are not findings)."""
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
