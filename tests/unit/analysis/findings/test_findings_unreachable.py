"""D11 (a target that answered nothing) and the generator's own delivery of the planned load."""

from __future__ import annotations

from loadlens.analysis.findings import diagnose
from loadlens.analysis.generator import undelivered
from loadlens.analysis.verdict import decide
from loadlens.model.finding import FindingClass
from loadlens.model.verdict import VerdictKind
from tests.unit.analysis.findings.finding_samples import op, run, stage


def test_a_stage_without_any_response_names_the_target_and_is_no_go() -> None:
    silent = stage(0, {"get": op({"error:connect_refused": 190, "error:connect_timeout": 10})})
    result = run([silent])
    findings = diagnose(result)
    (finding,) = [f for f in findings if f.kind is FindingClass.UNREACHABLE]
    target = result.run.target.split("//", 1)[-1].rstrip("/")
    assert finding.headline == (
        f"UNREACHABLE — no response from {target}: 190 × connection refused, 10 × connect timeout"
    )
    verdict = decide(result, [], findings=findings)
    assert verdict.kind is VerdictKind.NO_GO
    assert verdict.reasons[0] == f"finding [major]: {finding.headline}"


def test_one_response_of_any_status_means_the_target_was_reachable() -> None:
    answered = stage(0, {"get": op({"error:connect_refused": 199, "status:503": 1})})
    assert not [f for f in diagnose(run([answered])) if f.kind is FindingClass.UNREACHABLE]


def test_an_open_stage_that_sent_far_fewer_arrivals_than_planned_did_not_deliver_it() -> None:
    # 30 s at 100/s plans 3,000 arrivals
    assert undelivered(run([stage(0, {"get": op({"ok:200": 2900})}, rate=100.0)])) == []
    short = undelivered(run([stage(0, {"get": op({"ok:200": 1200})}, rate=100.0)]))
    assert short == ["stage `s1`: the generator sent 1,200 of the 3,000 arrivals planned (40%)"]
