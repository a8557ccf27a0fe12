"""Failure findings on synthetic runs: attribute (D1), broken chain (D2), race (D3), 429 (D4)."""

from __future__ import annotations

import dataclasses

from loadlens.analysis.findings import diagnose
from loadlens.analysis.findings.overlap import visible_share
from loadlens.analysis.verdict import decide
from loadlens.metrics.diagnostics import ErrorTemplate
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, FindingClass, Severity
from loadlens.model.verdict import VerdictKind
from tests.unit.analysis.findings.finding_samples import (
    diag,
    majors,
    op,
    run,
    sample,
    stage,
    texts,
)

CURSOR_TEMPLATE = ErrorTemplate("status:400", '{"error": "Invalid cursor"}', 42)


def _cursor_run() -> object:
    # The real report (seeds/004): 89 history requests, 42 failures, all with `cursor`.
    history = op({"ok:200": 47, "status:400": 42}, 5.0)
    send = op({"ok:201": 206}, 12.0)
    diagnostics = {
        "history": diag(
            {
                "q:cursor": {"ok:200": 3, "status:400": 42},
                "q:limit": {"ok:200": 47, "status:400": 42},
            },
            samples=[
                sample("status:400", 3.0, "/history?cursor=1729504542880"),
                sample("ok:200", 5.0, "/history?limit=20"),
            ],
            templates=[CURSOR_TEMPLATE],
        ),
        "send": diag({"b:text": {"ok:201": 206}}),
    }
    return run([stage(0, {"history": history, "send": send}, diagnostics, users=5)])


def test_the_cursor_report_is_reproduced_as_a_test_script_finding() -> None:
    result = _cursor_run()
    findings = diagnose(result)  # type: ignore[arg-type]
    top = findings[0]
    assert top.kind is FindingClass.REQUEST_ATTRIBUTE
    assert top.attribution is Attribution.TEST_SCRIPT and top.severity is Severity.MAJOR
    assert top.operation == "history"
    assert "47.2% of requests failed (42/89)" in top.headline
    assert "100.0% of failures had `q:cursor`" in top.headline
    lines = texts(top)
    assert "`q:cursor` present in 50.6% of requests (45/89)" in lines
    assert "P(q:cursor | fail) = 100.0% (42/42)" in lines
    assert "P(fail | q:cursor) = 93.3%" in lines and "(42/45)" in lines
    assert "P(fail | no q:cursor) = 0.0%" in lines and "(0/44)" in lines
    assert "Invalid cursor" in lines
    assert "fast-fail: failures median 3.0 ms vs 5.0 ms successes" in lines
    assert "not server errors: 100.0% are 4xx" in lines
    fisher = next(e for e in top.evidence if e.label == "fisher_p")
    assert fisher.value is not None and fisher.value < 1e-15
    assert top.examples[0]["target"] == "/history?cursor=1729504542880"
    assert majors(findings) == [top]


def test_a_script_finding_does_not_decide_the_verdict_but_is_named() -> None:
    result = _cursor_run()
    verdict = decide(result, [], findings=diagnose(result))  # type: ignore[arg-type]
    assert verdict.kind is VerdictKind.GO
    assert verdict.reasons[1].startswith("finding [major]: TEST SCRIPT (script or data fault)")


def test_the_attribute_is_not_load_related_across_stages() -> None:
    stages = []
    for index, users in enumerate([5, 20, 50]):
        history = op({"ok:200": 530, "status:400": 470}, 5.0)
        features = {"q:cursor": {"ok:200": 30, "status:400": 470}}
        stages.append(stage(index, {"history": history}, {"history": diag(features)}, users=users))
    top = diagnose(run(stages))[0]
    assert top.attribution is Attribution.TEST_SCRIPT
    assert "not load-related: failure rate by stage 47.0%, 47.0%, 47.0%" in texts(top)
    assert "present from the first stage `s1` (5 users)" in texts(top)


def test_server_errors_on_an_input_are_a_service_bug() -> None:
    items = op({"ok:200": 500, "status:500": 200}, 5.0)
    features = {"b:note": {"ok:200": 10, "status:500": 200}}
    top = diagnose(run([stage(0, {"items": items}, {"items": diag(features)}, users=5)]))[0]
    assert top.kind is FindingClass.REQUEST_ATTRIBUTE
    assert top.attribution is Attribution.SERVICE_BUG


def test_a_feature_that_does_not_separate_failures_is_no_finding() -> None:
    items = op({"ok:200": 500, "status:400": 50}, 5.0)
    features = {"q:page": {"ok:200": 250, "status:400": 25}}
    result = run([stage(0, {"items": items}, {"items": diag(features)}, users=5)])
    assert not [f for f in diagnose(result) if f.kind is FindingClass.REQUEST_ATTRIBUTE]


def test_a_shape_mismatch_names_both_shapes_and_example_values() -> None:
    create = op({"ok:201": 200})
    read = op({"ok:200": 100, "status:404": 100}, 2.0)
    diagnostics = {
        "read": diag(
            {
                "v:id=doc_<hex>": {"status:404": 100},
                "v:id=user-<int>": {"ok:200": 100},
                "src:id@create": {"status:404": 100, "ok:200": 100},
            },
            samples=[
                sample("status:404", 2.0, "/users/doc_7f3a91c2", id="doc_7f3a91c2"),
                sample("ok:200", 3.0, "/users/user-10492", id="user-10492"),
            ],
        )
    }
    findings = diagnose(run([stage(0, {"create": create, "read": read}, diagnostics, users=5)]))
    top = findings[0]
    assert top.kind is FindingClass.BROKEN_CHAIN and top.attribution is Attribution.TEST_SCRIPT
    assert "`doc_<hex>`" in top.headline and "`user-<int>`" in top.headline
    assert "e.g. doc_7f3a91c2" in texts(top) and "e.g. user-10492" in texts(top)
    assert majors(findings) == [top]


def test_values_from_a_pool_with_the_wrong_shape_are_test_data() -> None:
    read = op({"ok:200": 100, "status:404": 100}, 2.0)
    features = {
        "v:id=doc_<hex>": {"status:404": 100},
        "v:id=user-<int>": {"ok:200": 100},
        "src:id@pool": {"status:404": 100, "ok:200": 100},
    }
    top = diagnose(run([stage(0, {"read": read}, {"read": diag(features)}, users=5)]))[0]
    assert top.attribution is Attribution.TEST_DATA


def test_failed_captures_and_unsent_requests_are_a_broken_chain() -> None:
    create = op({"ok:201": 90, "capture_failed:id": 10})
    read = op({"ok:200": 90, "missing_variable:id": 10})
    findings = diagnose(run([stage(0, {"create": create, "read": read}, users=5)]))
    top = findings[0]
    assert top.kind is FindingClass.BROKEN_CHAIN and top.attribution is Attribution.TEST_SCRIPT
    assert "`read` not sent 10 times: `id` had no value" in texts(top)
    assert majors(findings) == [top]


def test_a_consumer_rejecting_every_captured_value_blames_the_capture() -> None:
    # seeds/000: READ 100 % 404 with `doc_` ids captured from a CREATE that succeeds.
    create = op({"ok:201": 300})
    read = op({"status:404": 300}, 2.0)
    features = {"v:id=doc_<hex>": {"status:404": 300}, "src:id@create": {"status:404": 300}}
    findings = diagnose(
        run([stage(0, {"create": create, "read": read}, {"read": diag(features)}, users=5)])
    )
    top = findings[0]
    assert top.kind is FindingClass.BROKEN_CHAIN and top.operation == "read"
    assert "captured by `create`, which succeeded 100.0%" in texts(top)


RACE_TEMPLATE = ErrorTemplate("status:500", "UNIQUE constraint failed: sessions.user_id", 1)


def _race_run() -> object:
    stages = []
    for index, (users, errors, overlapping_ok) in enumerate(
        [(10, 3, 2), (50, 40, 30), (200, 178, 113)]
    ):
        login = op({"ok:200": 1000, "status:500": errors}, 5.0)
        features = {
            "overlap:user": {"status:500": errors, "ok:200": overlapping_ok},
            "v:user=user-<int>": {"status:500": errors, "ok:200": 1000},
        }
        template = ErrorTemplate("status:500", RACE_TEMPLATE.template, errors)
        diagnostics = {"login": diag(features, templates=[template])}
        stages.append(stage(index, {"login": login}, diagnostics, users=users))
    return run(stages)


def test_server_errors_on_overlapping_entities_are_a_race() -> None:
    findings = diagnose(_race_run())  # type: ignore[arg-type]
    top = findings[0]
    assert top.kind is FindingClass.RACE and top.attribution is Attribution.SERVICE_BUG
    assert "221 × 5xx" in top.headline and "UNIQUE constraint failed" in top.headline
    assert "221 of 221 server errors (100.0%)" in texts(top)
    assert "0.3% @ 10 users" in texts(top)
    assert majors(findings) == [top]
    verdict = decide(_race_run(), [], findings=findings)  # type: ignore[arg-type]
    assert verdict.kind is VerdictKind.NO_GO and "race" in verdict.reasons[0]


def _split_race_run(workers: int, overlapped_errors: int, overlapped_ok: int = 227) -> RunResult:
    # The demo's token race as two worker processes saw it (25 users): each worker marks
    # overlap only with its own requests in flight, so about half of the 5xx show overlap.
    login = op({"ok:200": 4181, "status:500": 183}, 5.0)
    features = {
        "overlap:user": {"status:500": overlapped_errors, "ok:200": overlapped_ok},
        "v:user=user<int>": {"status:500": 183, "ok:200": 4181},
    }
    template = ErrorTemplate("status:500", RACE_TEMPLATE.template, 183)
    diagnostics = {"login": diag(features, templates=[template])}
    result = run([stage(0, {"login": login}, diagnostics, users=25)])
    return dataclasses.replace(result, run=dataclasses.replace(result.run, workers=workers))


def test_a_race_split_over_workers_is_read_against_what_a_worker_sees() -> None:
    findings = diagnose(_split_race_run(workers=2, overlapped_errors=89))
    assert findings, "no finding"
    top = findings[0]
    assert top.kind is FindingClass.RACE and top.attribution is Attribution.SERVICE_BUG
    lines = texts(top)
    assert "89 of 183 server errors (48.6%)" in lines and "in their worker" in lines
    assert "same worker with chance 48.0%" in lines
    assert "about 100.0% of the server errors overlapped" in lines


def test_a_race_whose_seen_share_fell_just_short_by_chance_is_still_a_race() -> None:
    # 4 workers see 22 % of concurrent requests: 30 of 183 (16.4 %) seen is a point estimate of
    # 75 % overlapped, but the share is a sample: its Wilson upper bound (22.4 %) is all of them.
    # (The successes seen to overlap shrink with the split alike: 227 × 22/48.)
    findings = diagnose(_split_race_run(workers=4, overlapped_errors=30, overlapped_ok=104))
    assert findings and findings[0].kind is FindingClass.RACE, findings


def test_the_same_overlap_share_with_one_worker_is_no_race() -> None:
    # one worker sees every request in flight: half the 5xx without overlap have another cause
    findings = diagnose(_split_race_run(workers=1, overlapped_errors=89))
    assert not [f for f in findings if f.kind is FindingClass.RACE]


def test_too_little_overlap_for_the_split_is_no_race() -> None:
    # 2 workers see 48 % of concurrent requests: 25 % of the 5xx seen is ~52 % of them, < 80 %
    findings = diagnose(_split_race_run(workers=2, overlapped_errors=46))
    assert not [f for f in findings if f.kind is FindingClass.RACE]


def test_the_visible_share_follows_the_split_of_the_load() -> None:
    closed = stage(0, {"x": op({"ok:200": 1})}, users=25)
    assert visible_share(closed, 1) == 1.0
    assert visible_share(closed, 2) == (13 * 12 + 12 * 11) / (25 * 24)
    assert visible_share(stage(0, {"x": op({"ok:200": 1})}, users=3), 4) == 0.0
    assert visible_share(stage(0, {"x": op({"ok:200": 1})}, rate=100.0), 4) == 0.25


def test_rate_limiting_is_policy_with_its_onset() -> None:
    s1 = stage(0, {"get": op({"ok:200": 300})}, users=10)
    limited = op({"ok:200": 700, "status:429": 100})
    s2 = stage(1, {"get": limited}, {"get": diag({}, headers={"retry-after": 100})}, users=80)
    findings = diagnose(run([s1, s2]))
    top = findings[0]
    assert top.kind is FindingClass.RATE_LIMIT and top.attribution is Attribution.POLICY
    assert top.stage == "s2" and "9.1% of requests got HTTP 429" in top.headline
    assert "Retry-After present on 100.0%" in texts(top)
    assert majors(findings) == []
    verdict = decide(run([s1, s2]), [], findings=findings)
    assert verdict.kind is VerdictKind.GO
    assert any("POLICY" in reason for reason in verdict.reasons)


def test_429s_are_not_failures_for_the_other_findings() -> None:
    get = op({"ok:200": 500, "status:429": 500})
    features = {"q:burst": {"status:429": 500, "ok:200": 10}}
    findings = diagnose(run([stage(0, {"get": get}, {"get": diag(features)}, users=5)]))
    assert [f.kind for f in findings if f.severity is not Severity.INFO] == [
        FindingClass.RATE_LIMIT
    ]
