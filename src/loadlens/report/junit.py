"""junit.xml: the run as JUnit test cases, so CI systems show gates next to unit tests.

One test case per gate judged (a failure when it FAILED, skipped when it could not be
judged), one per invariant once invariants exist, and `run completed`, which fails when the
run stopped before its plan ended.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from loadlens.metrics.result import RunResult
from loadlens.model.verdict import GateStatus
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
    failures = skipped = 0
    for gate in gates_of(result):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{scenario}.gates.{gate.stage}",
            name=f"{gate.gate} {gate.target}".strip()
            if gate.target and gate.target not in gate.gate
            else gate.gate,
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
    if result.verdict is not None:
        lines = [f"verdict {result.verdict.kind.label}", *result.verdict.reasons]
        ET.SubElement(suite, "system-out").text = "\n".join(lines)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", f"{run_duration(result):.3f}")
    suite.set("timestamp", fmt_utc(result.run.started_at).removesuffix(" UTC").replace(" ", "T"))
    suite.set("hostname", result.run.hostname)
    root = ET.Element("testsuites", name=f"loadlens {result.run.run_id}")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
