"""How findings about one cause become one: here, a request attribute that alone separates an
operation's failures outranks a race on the same operation."""

from __future__ import annotations

from loadlens.analysis.findings import _merged
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity


def _attribute(coverage: float, fail_rate: float) -> Finding:
    return Finding(
        kind=FindingClass.REQUEST_ATTRIBUTE,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MAJOR,
        confidence=0.8,
        headline="SERVICE BUG (input-dependent server error) — large bodies fail",
        evidence=(
            Evidence("coverage", f"P(rq>=12 | fail) = {coverage:.0%} (931/931)", coverage),
            Evidence("fail_given_feature", "P(fail | rq>=12) = ...", fail_rate),
        ),
        operation="upload",
    )


def _race(operation: str = "upload") -> Finding:
    return Finding(
        kind=FindingClass.RACE,
        attribution=Attribution.SERVICE_BUG,
        severity=Severity.MAJOR,
        confidence=0.7,
        headline=f"SERVICE BUG (race) — `{operation}`: 931 × 5xx; 98.5% had a concurrent request",
        operation=operation,
    )


def test_an_attribute_that_separates_the_failures_rules_the_race_out() -> None:
    merged = _merged([_race(), _attribute(1.0, 1.0)])
    assert [f.kind for f in merged] == [FindingClass.REQUEST_ATTRIBUTE]
    ruled_out = merged[0].counter_evidence
    assert [e.label for e in ruled_out] == ["race"]
    assert "98.5% had a concurrent request" in ruled_out[0].text
    assert "P(rq>=12 | fail) = 100%" in ruled_out[0].text


def test_an_attribute_that_leaves_failures_unexplained_keeps_the_race() -> None:
    # Most requests with the attribute succeed: concurrency may be what makes some fail.
    merged = _merged([_race(), _attribute(1.0, 0.3)])
    assert sorted(f.kind for f in merged) == [FindingClass.RACE, FindingClass.REQUEST_ATTRIBUTE]
    # ... and so when the attribute covers only part of the failures.
    merged = _merged([_race(), _attribute(0.6, 1.0)])
    assert sorted(f.kind for f in merged) == [FindingClass.RACE, FindingClass.REQUEST_ATTRIBUTE]


def test_a_race_on_another_operation_stays() -> None:
    merged = _merged([_race("login"), _attribute(1.0, 1.0)])
    assert sorted(f.kind for f in merged) == [FindingClass.RACE, FindingClass.REQUEST_ATTRIBUTE]
