"""Each detector names its class and attribution as the top finding on a server with that fault,
and a clean run of the same server (fault off) has no major and no minor finding.

The servers are small, written for these tests (faultservers.py), not the demo; the runs are
real: real sockets on 127.0.0.1, real load, real analysis.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Finding, FindingClass, Severity
from tests.integration.diagnosis.faultservers import FaultServer
from tests.support.runs import run_scenario, write

HEADER = """\
name: {name}
target: http://127.0.0.1:1
defaults:
  timeout: 10s
flows:
  - name: main
    steps:
      - request: {{name: {op}, method: {method}, url: /{op}}}
{think}plan:
"""

SCENARIOS = {
    # one load level: the slow mode must be found without a stage to compare with
    "slow-mode": ("login", "POST", "", ["{stage: s, users: 4, duration: 4s}"]),
    # open model past capacity (50/s with the fault): in-flight requests are cancelled at
    # each stage's end (grace 0.2 s), which must not count as throughput
    "plateau": (
        "work",
        "GET",
        "",
        [
            "{stage: r15, rate: 15/s, duration: 4s, grace: 0.2s}",
            "{stage: r75, rate: 75/s, duration: 4s, grace: 0.2s}",
            "{stage: r150, rate: 150/s, duration: 4s, grace: 0.2s}",
        ],
    ),
    # a fixed worker pool (200/s with the fault) under an open-model ramp to 300/s: the
    # arrivals outpace the completions within the one overloaded stage (two stages: no
    # progression of three loads for the cross-stage rule to read)
    "worker-pool": (
        "job",
        "GET",
        "",
        [
            "{stage: r50, rate: 50/s, duration: 3s}",
            "{stage: r300, rate: 300/s, ramp: 1s, duration: 5s, grace: 0.5s}",
        ],
    ),
    "nagle": (
        "item",
        "GET",
        "      - think: 2ms\n",
        ["{stage: s, users: 4, duration: 4s}"],
    ),
    "shedding": (
        "order",
        "POST",
        "      - think: 10ms\n",
        [
            "{stage: u2, users: 2, duration: 3s}",
            "{stage: u8, users: 8, duration: 3s}",
            "{stage: u24, users: 24, duration: 3s}",
        ],
    ),
}

EXPECTED = {
    "slow-mode": (FindingClass.LATENCY_TAIL, Attribution.SERVICE_BUG),
    "plateau": (FindingClass.SATURATION, Attribution.SERVICE_CAPACITY),
    "worker-pool": (FindingClass.SATURATION, Attribution.SERVICE_CAPACITY),
    "nagle": (FindingClass.LATENCY_FLOOR, Attribution.SERVICE_BUG),
    "shedding": (FindingClass.LOAD_SHEDDING, Attribution.SERVICE_CAPACITY),
}


def _run(tmp_path: Path, mode: str, *, fault: bool) -> RunResult:
    op, method, think, stages = SCENARIOS[mode]
    text = HEADER.format(name=mode, op=op, method=method, think=think)
    text += "".join(f"  - {s}\n" for s in stages)
    path = write(tmp_path / "scenario.yaml", text)
    out = tmp_path / "runs"
    with FaultServer(mode, fault=fault) as url:
        # Every stage runs: the default gate (error_rate < 5%) fails once a stage is past
        # capacity, and the diagnosis needs the stages beyond it (as `demo --fault` does).
        run = run_scenario(path, url, out, "--workers", "1", "--continue-on-fail")
    assert run.code in (0, 1, 3), run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return run.result()


def _about_the_service(result: RunResult) -> list[Finding]:
    # The generator's own health on a busy shared host (late starts, loop lag) is reported by
    # the measurement finding and judged by the verdict; it is not a finding about the service.
    return [f for f in result.findings if f.attribution is not Attribution.LOAD_GENERATOR]


def _describe(findings: list[Finding]) -> str:
    return "\n".join(
        f"{f.severity} {f.kind} {f.attribution} {f.operation}: {f.headline}" for f in findings
    )


@pytest.mark.parametrize("mode", list(SCENARIOS))
def test_the_fault_is_the_top_finding(tmp_path: Path, mode: str) -> None:
    result = _run(tmp_path, mode, fault=True)
    findings = _about_the_service(result)
    assert findings, "no finding"
    top = findings[0]
    assert (top.kind, top.attribution) == EXPECTED[mode], _describe(result.findings)
    assert top.severity is not Severity.INFO, _describe(result.findings)
    assert top.evidence


@pytest.mark.parametrize("mode", list(SCENARIOS))
def test_the_clean_server_has_no_finding(tmp_path: Path, mode: str) -> None:
    result = _run(tmp_path, mode, fault=False)
    serious = [f for f in _about_the_service(result) if f.severity is not Severity.INFO]
    assert not serious, _describe(result.findings)


def test_a_slow_mode_is_shown_by_slow_examples(tmp_path: Path) -> None:
    result = _run(tmp_path, "slow-mode", fault=True)
    top = _about_the_service(result)[0]
    mode = next(e for e in top.evidence if e.label == "slow_mode")
    # every 20th request: 5 %, give or take what a busy host adds or a stage's end cuts
    assert mode.value is not None and 0.03 <= mode.value <= 0.08, mode.text
    for example in top.examples:
        assert (example["latency_ms"] or 0.0) >= 50.0, top.examples
