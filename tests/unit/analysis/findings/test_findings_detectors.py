"""The detectors of issue 17 on hand-built results: a slow mode at one load level, refusals at
capacity against a rate limit, the Nagle floor, one finding per cause, and a USL peak only
where the measurements show one."""

from __future__ import annotations

from loadlens.analysis.findings import diagnose
from loadlens.analysis.findings.shedding import SHED_KEY, relabelled
from loadlens.analysis.usl import fit_usl
from loadlens.metrics.diagnostics import Phases
from loadlens.model.finding import Attribution, FindingClass, Severity
from loadlens.model.integrity import InvariantResult
from tests.unit.analysis.findings.finding_samples import diag, op, run, sample, stage, texts


def test_a_five_percent_slow_mode_at_one_load_level_is_a_slow_operation() -> None:
    # 5 % of logins at 100 × the median: p95 lands just at the slow mode's edge
    login = op({"ok:200": 1000}, [2.0] * 950 + [200.0] * 50)
    examples = [sample("ok:200", 2.0), sample("ok:200", 200.0)]
    findings = diagnose(run([stage(0, {"login": login}, {"login": diag({}, examples)}, users=4)]))
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.LATENCY_TAIL, Attribution.SERVICE_BUG)
    assert top.severity is Severity.MAJOR
    assert "5.0% of 1,000 requests" in texts(top) and "100× the median" in texts(top)
    assert "measured at one load level only" in texts(top)
    assert "not queueing" not in texts(top)  # one stage cannot show it
    assert [x["latency_ms"] for x in top.examples] == [200.0]  # slow examples only


def test_a_tail_every_operation_shares_is_not_an_operations_own() -> None:
    ops = {name: op({"ok:200": 1000}, [2.0] * 900 + [200.0] * 100) for name in ("a", "b")}
    findings = diagnose(run([stage(0, ops, users=4)]))
    assert [f.headline for f in findings if f.kind is FindingClass.LATENCY_TAIL] == [
        "LATENCY TAIL (service-wide stalls) — a slow mode shared by `a`, `b`"
    ]
    assert findings[0].severity is Severity.INFO


def _refusals(status: str, climb: bool) -> list[object]:
    stages = []
    for index, users in enumerate([2, 8, 24]):
        refused = {0: 0, 1: 50, 2: 2000}[index]
        slow = 5.0 * (1 + 3 * index) if climb else 5.0
        stats = op({"ok:200": 600, status: refused}, [0.2] * refused + [slow] * 600)
        headers = {"retry-after": refused}
        features = {"h:retry-after": {status: refused}}
        diagnostics = {"order": diag(features, headers=headers)}
        stages.append(stage(index, {"order": stats}, diagnostics, users=users, duration=3.0))
    return stages


def test_503_with_retry_after_at_flat_throughput_and_rising_latency_is_load_shedding() -> None:
    findings = diagnose(run(_refusals("status:503", climb=True)))  # type: ignore[arg-type]
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.LOAD_SHEDDING, Attribution.SERVICE_CAPACITY)
    assert "accepted requests' median latency ×" in texts(top)
    assert not [f for f in findings if f.kind is FindingClass.REQUEST_ATTRIBUTE]


def test_429_at_a_fixed_rate_whatever_the_latency_is_policy() -> None:
    findings = diagnose(run(_refusals("status:429", climb=False)))  # type: ignore[arg-type]
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.RATE_LIMIT, Attribution.POLICY)


def test_503_with_retry_after_is_relabelled_for_every_finding() -> None:
    result = run(_refusals("status:503", climb=True))  # type: ignore[arg-type]
    copy = relabelled(result)
    assert copy.total.outcomes[SHED_KEY] == 2050 and "status:503" not in copy.total.outcomes
    assert result.total.outcomes["status:503"] == 2050  # the result itself is unchanged


def _nagle(floor_ms: float) -> list[object]:
    reused, new = 996, 4
    phases = Phases(
        responses=reused + new,
        new_connections=new,
        new_us=new * 1000,
        new_squares=new * 1000**2 + 4000,
        reused_us=int(reused * floor_ms * 1000),
        reused_squares=int(reused * (floor_ms * 1000) ** 2 + reused * 4e6),
    )
    diagnostics = diag({})
    diagnostics.phases = phases
    stats = op({"ok:200": reused + new}, [1.0] * new + [floor_ms] * reused)
    return [stage(0, {"item": stats}, {"item": diagnostics}, users=4)]


def test_a_40_ms_floor_on_reused_connections_only_is_nagle() -> None:
    findings = diagnose(run(_nagle(44.0)))  # type: ignore[arg-type]
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.LATENCY_FLOOR, Attribution.SERVICE_BUG)
    assert top.severity is Severity.MAJOR and "TCP_NODELAY" in top.advice


def test_a_fast_service_on_reused_connections_has_no_floor() -> None:
    findings = diagnose(run(_nagle(1.0)))  # type: ignore[arg-type]
    assert not [f for f in findings if f.kind is FindingClass.LATENCY_FLOOR]


def test_an_invariant_failed_after_a_stage_and_at_the_end_is_one_finding() -> None:
    result = run([stage(0, {"get": op({"ok:200": 10})}, users=1)])
    rows = ({"id": 1},)
    result.invariants = [
        InvariantResult("no-overbooking", "sql", False, 1, rows, when="each_stage:s1"),
        InvariantResult("no-overbooking", "sql", False, 2, rows, when="end"),
    ]
    (finding,) = [f for f in diagnose(result) if f.kind is FindingClass.INTEGRITY]
    assert "failed at 2 checks (each_stage:s1, end)" in finding.headline


def test_a_flat_series_claims_no_usl_peak() -> None:
    fit = fit_usl([1, 2, 4, 8, 16], [100.0, 101.0, 99.0, 100.5, 99.5])
    assert not fit.supported_peak
