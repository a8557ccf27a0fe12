"""junit.xml: one test case per gate and for the run's completion, as CI tools read them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_golden import assert_golden
from report_samples import clean_result, failing_result, hostile_result, interrupted_result

from loadlens.report.junit import render_junit


def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def test_junit_matches_its_golden_files() -> None:
    assert_golden("clean.junit.xml", render_junit(clean_result()))
    assert_golden("failing.junit.xml", render_junit(failing_result()))
    assert_golden("interrupted.junit.xml", render_junit(interrupted_result()))


def test_a_clean_run_passes_every_case() -> None:
    suite = _suite(render_junit(clean_result()))
    assert suite.get("name") == "users-crud"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "0", "0")
    assert suite.get("errors") == "0"
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == [
        "error_rate < 1%",
        "p95 < 50ms",
        "p95{op:read} < 20ms",
        "run completed",
        "verdict",
    ]


def test_failed_gates_fail_and_unjudged_gates_are_skipped() -> None:
    suite = _suite(render_junit(failing_result()))
    # two failed gates and the NO-GO verdict: the exit code (1) and junit agree
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "3", "2")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["p95 < 50ms"].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "stage load: measured 61.2ms, target < 50ms, samples 176, "
        "judged over worst 2s window (to second 3)"
    )
    skipped = cases["p99{op:update} < 100ms"].find("skipped")
    assert skipped is not None
    assert skipped.get("message", "").startswith("too few samples: ")
    assert cases["run completed"].find("failure") is None


def test_an_interrupted_run_fails_run_completed() -> None:
    suite = _suite(render_junit(interrupted_result()))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == (
        "the run is INCOMPLETE (interrupted); stages not run: load, stress"
    )


def test_hostile_names_stay_valid_xml() -> None:
    suite = _suite(render_junit(hostile_result()))
    assert suite.get("name") == '"><img src=x onerror=alert(1)>'


def test_an_inconclusive_run_is_an_error_not_a_pass() -> None:
    import dataclasses

    from loadlens.model.verdict import GateStatus, VerdictKind

    result = clean_result()
    assert result.verdict is not None
    gate = dataclasses.replace(
        result.gates[1],
        status=GateStatus.UNCERTAIN,
        bound_ms=40.0,
        bound_cause="event-loop lag 40.0 ms in second 2 (worker 0 at 5 % CPU: the host was busy)",
    )
    result.gates = [result.gates[0], gate, *result.gates[2:]]
    result.verdict = dataclasses.replace(
        result.verdict, kind=VerdictKind.INCONCLUSIVE, reasons=("the bound straddles",)
    )
    suite = _suite(render_junit(result))
    assert (suite.get("failures"), suite.get("errors")) == ("0", "2")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    error = cases["verdict"].find("error")
    assert error is not None and error.get("message") == "INCONCLUSIVE: the bound straddles"
    uncertain = cases["p95 < 50ms"].find("error")
    assert uncertain is not None and "the host was busy" in uncertain.get("message", "")


def test_a_default_gate_says_so() -> None:
    import dataclasses

    result = clean_result()
    result.gates = [dataclasses.replace(result.gates[0], default=True)]
    names = [case.get("name") for case in _suite(render_junit(result)).iter("testcase")]
    assert names[0] == "error_rate < 1% (default)"
