"""junit.xml: the run as JUnit test cases, so CI systems show gates next to unit tests.

One test case per gate judged (a failure when it FAILED, an error when the generator's error
bound left it UNCERTAIN, skipped when it could not be judged; a default gate's name says
`(default)`), `run completed`, which fails when the run stopped before its plan ended, and
`verdict`, which tells the same story as the exit code: it passes on GO, fails on NO-GO and is
an error on INCONCLUSIVE (the run says nothing either way, which CI must not read as a pass).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from loadlens.metrics.result import RunResult
from loadlens.model.verdict import GateStatus, VerdictKind
from loadlens.report.facts import (
    fmt_utc,
    gate_measured,
    gate_samples,
    gate_window,
    gates_of,
    run_duration,
    run_state,
)


def render_junit(result: RunResult) -> str:
    """The JUnit XML document (one testsuite named after the scenario)."""
    scenario = result.run.scenario
    suite = ET.Element("testsuite", name=scenario)
    failures = skipped = errors = 0
    for gate in gates_of(result):
        name = (
            f"{gate.gate} {gate.target}".strip()
            if gate.target and gate.target not in gate.gate
            else gate.gate
        )
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{scenario}.gates.{gate.stage}",
            name=name + (" (default)" if gate.default else ""),
            time="0",
        )
        detail = (
            f"stage {gate.stage}: measured {gate_measured(gate)}, target {gate.target}, "
            f"samples {gate_samples(gate)}, judged over {gate_window(gate)}"
        )
        if gate.status is GateStatus.FAILED:
            failures += 1
            failure = ET.SubElement(case, "failure", message=detail, type="GateFailed")
            failure.text = detail
        elif gate.status is GateStatus.UNCERTAIN:
            errors += 1
            message = f"{detail}; within ± {gate.bound_ms:,.1f} ms: {gate.bound_cause}"
            error = ET.SubElement(case, "error", message=message, type="GateUncertain")
            error.text = message
        elif gate.status in (GateStatus.INSUFFICIENT, GateStatus.NOT_AVAILABLE):
            skipped += 1
            reason = "too few samples" if gate.status is GateStatus.INSUFFICIENT else "not measured"
            ET.SubElement(case, "skipped", message=f"{reason}: {detail}")
        else:
            ET.SubElement(case, "system-out").text = detail
    # Invariants: one test case each, once RunResult carries them (none recorded yet).
    run_case = ET.SubElement(
        suite, "testcase", classname=f"{scenario}.run", name="run completed", time="0"
    )
    if result.interrupted or not result.complete:
        failures += 1
        not_run = [s.info.name for s in result.stages if not s.ran]
        message = f"the run is {run_state(result)}"
        if not_run:
            message += f"; stages not run: {', '.join(not_run)}"
        ET.SubElement(run_case, "failure", message=message, type="RunIncomplete").text = message
    verdict = result.verdict
    verdict_case = ET.SubElement(
        suite, "testcase", classname=f"{scenario}.run", name="verdict", time="0"
    )
    kind = verdict.kind if verdict is not None else None
    why = "; ".join(verdict.reasons) if verdict is not None else "the run was not judged"
    if kind is VerdictKind.NO_GO:
        failures += 1
        ET.SubElement(verdict_case, "failure", message=f"NO-GO: {why}", type="NoGo").text = why
    elif kind is not VerdictKind.GO:
        errors += 1
        label = "INCONCLUSIVE" if kind is not None else "NO VERDICT"
        message = f"{label}: {why}"
        ET.SubElement(verdict_case, "error", message=message, type="Inconclusive").text = why
    else:
        ET.SubElement(verdict_case, "system-out").text = f"GO: {why}"
    if verdict is not None:
        lines = [f"verdict {verdict.kind.label}", *verdict.reasons]
        ET.SubElement(suite, "system-out").text = "\n".join(lines)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", f"{run_duration(result):.3f}")
    suite.set("timestamp", fmt_utc(result.run.started_at).removesuffix(" UTC").replace(" ", "T"))
    suite.set("hostname", result.run.hostname)
    root = ET.Element("testsuites", name=f"loadlens {result.run.run_id}")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
