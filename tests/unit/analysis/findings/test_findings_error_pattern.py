"""D13: failures no other finding explains, described by when they happened."""

from __future__ import annotations

from loadlens.analysis.findings import diagnose
from loadlens.metrics.result import SeriesOp
from loadlens.model.finding import Attribution, Finding, FindingClass, Severity
from tests.unit.analysis.findings.finding_samples import diag, op, point, run, stage, texts

NO_FEATURES = diag({})  # diagnostics were recorded, and no feature separates the requests


def _patterns(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind is FindingClass.ERROR_PATTERN]


def test_401s_that_begin_at_a_moment_and_stay_are_an_onset_with_credential_advice() -> None:
    # 10 requests a second: none fails for 4 s, then every one does (a token expired).
    seconds = [(s, 0 if s < 4 else 10) for s in range(12)]
    series = [
        point(0, s, {"me": SeriesOp(count=10, ok=10 - bad, errors=bad, samples=10)})
        for s, bad in seconds
    ]
    me = op({"ok:200": 40, "status:401": 80})
    (found,) = _patterns(
        diagnose(run([stage(0, {"me": me}, {"me": NO_FEATURES}, users=4)], series))
    )
    assert found.attribution is Attribution.TEST_SCRIPT and found.severity is Severity.MAJOR
    assert found.operation == "me" and found.stage == "s1"
    assert "from 4 s into stage `s1` on: 0 of 40 requests failed before, 80 of 80 after" in (
        found.headline
    )
    assert "expired token" in found.advice


def test_random_500s_at_two_loads_are_steady_and_both_loads_are_ruled_out() -> None:
    light = op({"ok:200": 970, "status:500": 30})
    heavy = op({"ok:200": 1940, "status:500": 60})
    stages = [
        stage(0, {"item": light}, {"item": NO_FEATURES}, users=5),
        stage(1, {"item": heavy}, {"item": NO_FEATURES}, users=10),
    ]
    (found,) = _patterns(diagnose(run(stages)))
    assert found.attribution is Attribution.SERVICE_BUG and found.severity is Severity.MINOR
    assert "(steady errors) — `item`: 90 of 3,000 requests (3.0%) failed (HTTP 500 ×90)" in (
        found.headline
    )
    assert "stage `s1` (5 users): 30 of 1,000 failed" in texts(found)
    assert "stage `s2` (10 users): 60 of 2,000 failed" in texts(found)


def test_500s_that_grow_with_load_say_so() -> None:
    stages = [
        stage(0, {"item": op({"ok:200": 990, "status:500": 10})}, {"item": NO_FEATURES}, users=5),
        stage(1, {"item": op({"ok:200": 800, "status:500": 200})}, {"item": NO_FEATURES}, users=50),
    ]
    (found,) = _patterns(diagnose(run(stages)))
    assert "(errors grow with load)" in found.headline
    assert "1.0% of requests failed at 5 users, 20.0% at 50 users" in found.headline
    assert found.severity is Severity.MAJOR  # 210 of 2,000: over 5 %


def test_failures_another_finding_explains_or_that_were_never_diagnosed_get_none() -> None:
    # No diagnostics recorded (an older result): no attribute was tested, nothing is claimed.
    bare = op({"ok:200": 50, "status:500": 50})
    assert _patterns(diagnose(run([stage(0, {"get": bare}, users=5)]))) == []
    # Few failures, or a rate under 1 %: below what is worth a finding.
    rare = op({"ok:200": 1000, "status:500": 4})
    assert _patterns(diagnose(run([stage(0, {"get": rare}, {"get": NO_FEATURES}, users=5)]))) == []
    # A stage in which nothing answered is the unreachable finding's, for every operation.
    refused = op({"error:connect_refused": 60})
    found = diagnose(run([stage(0, {"get": refused}, {"get": NO_FEATURES}, users=5)]))
    assert found[0].kind is FindingClass.UNREACHABLE and _patterns(found) == []
    # Requests never sent are the script's: the broken chain names them.
    unsent = op({"ok:200": 50, "missing_variable:id@create": 50, "status:500": 10})
    assert (
        _patterns(diagnose(run([stage(0, {"get": unsent}, {"get": NO_FEATURES}, users=5)]))) == []
    )


def test_random_timeouts_are_steady_errors_of_the_service() -> None:
    item = op({"ok:200": 930, "error:read_timeout": 70})
    (found,) = _patterns(diagnose(run([stage(0, {"item": item}, {"item": NO_FEATURES}, users=10)])))
    assert found.attribution is Attribution.SERVICE_BUG and found.severity is Severity.MAJOR
    assert "70 of 1,000 requests (7.0%) failed (read timeout ×70)" in found.headline


def test_an_operation_an_attribute_finding_names_gets_no_second_finding() -> None:
    # Every 500 has `sort=price`: the attribute finding explains them; no error pattern.
    get = op({"ok:200": 300, "status:500": 100})
    features = diag(
        {"q:sort=price": {"status:500": 100}, "q:sort=name": {"ok:200": 300}},
    )
    found = diagnose(run([stage(0, {"get": get}, {"get": features}, users=5)]))
    assert any(f.kind is FindingClass.REQUEST_ATTRIBUTE for f in found), [f.headline for f in found]
    assert _patterns(found) == []
