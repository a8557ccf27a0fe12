"""Findings that hold on services loadlens was not tuned on: one cause one finding, values from
anywhere, contention apart from races, latency explained by an input (synthetic results)."""

from __future__ import annotations

from loadlens.analysis.findings import diagnose
from loadlens.metrics.diagnostics import FeatureCounts, OpDiagnostics
from loadlens.metrics.recorder import latency_bucket
from loadlens.metrics.result import StageResult
from loadlens.model.finding import Attribution, FindingClass, Severity
from tests.unit.analysis.findings.finding_samples import diag, op, run, stage, texts


def test_one_broken_capture_is_one_finding_named_by_its_variable() -> None:
    create = op({"ok:201": 90, "capture_failed:id": 10})
    read = op({"ok:200": 90, "missing_variable:id@create": 10})
    findings = diagnose(run([stage(0, {"create": create, "read": read}, users=5)]))
    chains = [f for f in findings if f.kind is FindingClass.BROKEN_CHAIN]
    assert len(chains) == 1
    assert "`id` not captured by `create`" in chains[0].headline
    assert "id@create" not in chains[0].headline + texts(chains[0])


def test_values_missing_because_the_producer_failed_are_not_a_broken_chain() -> None:
    # the demo's token race: concurrent logins get 500s, so the refresh step has no token
    login = op({"ok:200": 900, "status:500": 100})
    refresh = op({"ok:200": 900, "missing_variable:refresh_token@login": 100})
    findings = diagnose(run([stage(0, {"login": login, "refresh": refresh}, users=12)]))
    assert not [f for f in findings if f.kind is FindingClass.BROKEN_CHAIN]


def test_a_literal_value_failing_in_its_own_operation_is_found_across_operations() -> None:
    ops, diagnostics = {}, {}
    for sort in ("name", "price", "date", "id"):
        name = f"by-{sort}"
        failing = sort == "price"
        outcomes = {"status:500": 200} if failing else {"ok:200": 200}
        ops[name] = op(outcomes)
        diagnostics[name] = diag(
            {
                "q:sort": outcomes,
                f"qv:sort={sort}": outcomes,
                f"flow:{name}": outcomes,
                "p:0=items": outcomes,
            }
        )
    findings = diagnose(run([stage(0, ops, diagnostics, users=4)]))
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.REQUEST_ATTRIBUTE, Attribution.SERVICE_BUG)
    assert top.operation == "by-price" and top.severity is Severity.MAJOR
    assert "the service fails on sort=price" in top.headline
    assert "feeder" not in top.advice and "script" not in top.advice


def _conflict_stage(index: int, users: int, conflicts: int, overlapping_ok: int) -> StageResult:
    update = op({"ok:200": 400 - conflicts, "status:412": conflicts})
    features = {
        "overlap:/docs/1": {"status:412": conflicts, "ok:200": overlapping_ok},
        "p:0=docs": {"ok:200": 400 - conflicts, "status:412": conflicts},
    }
    return stage(index, {"update": update}, {"update": diag(features)}, users=users)


def test_conflicts_rising_with_overlap_are_contention_not_a_race() -> None:
    result = run([_conflict_stage(0, 1, 0, 0), _conflict_stage(1, 8, 120, 100)])
    findings = diagnose(result)
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.CONTENTION, Attribution.SERVICE_CAPACITY)
    assert "/docs/1" in texts(top)
    assert "rising with load" in texts(top)
    assert not [f for f in findings if f.kind is FindingClass.RACE]


def test_expected_conflicts_are_information() -> None:
    stages = []
    for index, (users, conflicts) in enumerate([(1, 0), (8, 120)]):
        update = op({"ok:200": 400 - conflicts, "ok:409": conflicts})
        features = {"overlap:/docs/1": {"ok:409": conflicts, "ok:200": 100 * index}}
        stages.append(stage(index, {"update": update}, {"update": diag(features)}, users=users))
    contention = [f for f in diagnose(run(stages)) if f.kind is FindingClass.CONTENTION]
    assert len(contention) == 1 and contention[0].severity is Severity.INFO


def _latency_diag(slow_ms: float, fast_ms: float, slow: int, fast: int) -> OpDiagnostics:
    slow_bucket, fast_bucket = (
        latency_bucket(int(slow_ms * 1000)),
        latency_bucket(int(fast_ms * 1000)),
    )
    counts = FeatureCounts(
        {
            "rq:7": {"ok:200": slow + fast},
            "val:random_int(1, 8)=7": {"ok:200": slow},
            "val:random_int(1, 8)=3": {"ok:200": fast // 7},
        },
        latency={
            "rq:7": {slow_bucket: slow, fast_bucket: fast},
            "val:random_int(1, 8)=7": {slow_bucket: slow},
            "val:random_int(1, 8)=3": {fast_bucket: fast // 7},
        },
    )
    return OpDiagnostics(features=counts)


def test_a_slow_value_is_named_with_the_ratio_of_medians() -> None:
    product = op({"ok:200": 800}, [40.0] * 100 + [1.0] * 700)
    result = run(
        [stage(0, {"product": product}, {"product": _latency_diag(40, 1, 100, 700)}, users=4)]
    )
    found = [f for f in diagnose(result) if f.kind is FindingClass.SLOW_INPUT]
    assert len(found) == 1
    finding = found[0]
    assert finding.attribution is Attribution.SERVICE_BUG
    assert "random_int(1, 8)=7" in finding.headline
    assert "×40" in finding.headline or "×39" in finding.headline


def test_no_latency_finding_when_the_split_is_small() -> None:
    product = op({"ok:200": 800}, 1.0)
    result = run(
        [stage(0, {"product": product}, {"product": _latency_diag(1.2, 1, 100, 700)}, users=4)]
    )
    assert not [f for f in diagnose(result) if f.kind is FindingClass.SLOW_INPUT]


def _sized_stage(index: int, users: int, sizes: dict[int, tuple[int, float]]) -> StageResult:
    # responses of `sizes` (bucket -> (count, latency ms)), every request of one size bucket
    counts: dict[str, dict[str, int]] = {}
    latency: dict[str, dict[int, int]] = {}
    total = sum(n for n, _ in sizes.values())
    counts["rq:7"] = {"ok:200": total}
    latency["rq:7"] = {}
    for bucket, (n, ms) in sizes.items():
        counts[f"rs:{bucket}"] = {"ok:200": n}
        latency[f"rs:{bucket}"] = {latency_bucket(int(ms * 1000)): n}
        rq = latency["rq:7"]
        rq[latency_bucket(int(ms * 1000))] = rq.get(latency_bucket(int(ms * 1000)), 0) + n
    values = [ms for n, ms in sizes.values() for _ in range(n)]
    diagnostics = OpDiagnostics(features=FeatureCounts(counts, latency=latency))
    return stage(index, {"reserve": op({"ok:200": total}, values)}, {"reserve": diagnostics},
                 users=users)  # fmt: skip


def test_a_response_that_grows_only_under_load_does_not_explain_the_slowness() -> None:
    # the demo's small pool: under overload the body reports a backlog (a longer number), so
    # the queued, slow responses are the larger ones; at the lowest load there are none
    result = run(
        [
            _sized_stage(0, 5, {7: (400, 2.0)}),
            _sized_stage(1, 50, {7: (200, 20.0), 8: (200, 400.0)}),
        ]
    )
    assert not [f for f in diagnose(result) if f.kind is FindingClass.SLOW_INPUT]


def test_a_large_response_slow_at_the_lowest_load_too_is_named() -> None:
    result = run(
        [
            _sized_stage(0, 5, {7: (300, 2.0), 12: (100, 80.0)}),
            _sized_stage(1, 50, {7: (300, 20.0), 12: (100, 300.0)}),
        ]
    )
    found = [f for f in diagnose(result) if f.kind is FindingClass.SLOW_INPUT]
    assert len(found) == 1
    assert "response of 4 KiB–8 KiB are ×39.2 slower" in found[0].headline
    assert "(100 responses) vs 2.0 ms without (300)" in texts(found[0])
    assert "judged at the run's lowest load only (`s1` (5 users))" in texts(found[0])


def test_values_of_one_variable_each_slower_are_one_cause_naming_them_all() -> None:
    # the demo's slow hash: every fifth account (user4, user9) is slow, not one of them
    slow, fast = latency_bucket(400_000), latency_bucket(5_000)
    counts: dict[str, dict[str, int]] = {"rq:7": {"ok:200": 1000}}
    latency: dict[str, dict[int, int]] = {"rq:7": {slow: 200, fast: 800}}
    for user in range(10):
        bucket = slow if user in (4, 9) else fast
        counts[f"val:user={user}"] = {"ok:200": 100}
        latency[f"val:user={user}"] = {bucket: 100}
    diagnostics = OpDiagnostics(features=FeatureCounts(counts, latency=latency))
    login = op({"ok:200": 1000}, [400.0] * 200 + [5.0] * 800)
    result = run([stage(0, {"login": login}, {"login": diagnostics}, users=10)])
    found = [f for f in diagnose(result) if f.kind is FindingClass.SLOW_INPUT]
    assert len(found) == 1
    assert "requests with user in {4, 9} are ×84.2 slower" in found[0].headline
    assert "(200 responses) vs 4.9 ms without (800)" in texts(found[0])
