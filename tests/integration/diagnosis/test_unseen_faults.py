"""Diagnosis on a service it was not tuned on: one fault per class, and the same service clean.

Each test runs a short scenario (a few hundred to a few thousand requests) against
`faulty_service` with one fault on, and checks that the top finding names the fault's class
and attribution; the clean run sends every scenario's flows together to the service with every
fault off and checks that no finding is major or minor. Real service, real load, real
analysis; counts, not durations.

Findings about the measurement itself (a busy generator: event-loop lag on a loaded machine)
say how far to trust the run, not what is wrong with the service; they are set aside here, as
they are by the verdict (INCONCLUSIVE, never a diagnosis).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Finding, FindingClass, Severity
from tests.integration.diagnosis.faulty_service import FaultyService
from tests.support.runs import loadlens, write

HEADERS = "defaults:\n  headers: {content-type: application/json}\n  timeout: 10s\n"

SCENARIOS = {
    # One flow of four sends a literal `sort=price`; each flow is its own operation, so the
    # failing operation has no contrast inside it.
    "literal-value": f"""\
name: sorts
target: http://127.0.0.1:1
{HEADERS}flows:
  - name: by-name
    steps:
      - request: {{name: by-name, method: GET, url: "/items?sort=name&limit=20"}}
      - think: 2ms
  - name: by-price
    steps:
      - request: {{name: by-price, method: GET, url: "/items?sort=price&limit=20"}}
      - think: 2ms
  - name: by-date
    steps:
      - request: {{name: by-date, method: GET, url: "/items?sort=date&limit=20"}}
      - think: 2ms
  - name: by-id
    steps:
      - request: {{name: by-id, method: GET, url: "/items?sort=id&limit=20"}}
      - think: 2ms
plan:
  - {{stage: s, users: 4, duration: 2s}}
""",
    # Every user reads the one document and writes it back with If-Match: alone, never a
    # conflict; eight at once, many.
    "if-match": f"""\
name: editors
target: http://127.0.0.1:1
{HEADERS}flows:
  - name: edit
    steps:
      - request: {{name: read-doc, method: GET, url: /docs/1}}
        expect: {{status: 200}}
        capture: {{etag: {{header: etag}}}}
      - request: {{name: update-doc, method: PUT, url: /docs/1,
                  headers: {{if-match: "{{{{ etag }}}}"}}, json: {{title: draft}}}}
        expect: {{status: 200}}
plan:
  - {{stage: alone, users: 1, duration: 1.5s}}
  - {{stage: crowd, users: 8, duration: 2s}}
""",
    # File names from the millisecond clock: users that start in the same millisecond create
    # the same name at once.
    "name-race": f"""\
name: files
target: http://127.0.0.1:1
{HEADERS}flows:
  - name: create
    steps:
      - request: {{name: create-file, method: POST, url: /files,
                  json: {{name: "f{{{{ timestamp }}}}"}}}}
        expect: {{status: [200, 201]}}
plan:
  - {{stage: s, users: 8, duration: 2s}}
""",
    "slow-id": f"""\
name: products
target: http://127.0.0.1:1
{HEADERS}flows:
  - name: browse
    steps:
      - request: {{name: product, method: GET, url: "/products/{{{{ random_int(1, 8) }}}}"}}
plan:
  - {{stage: s, users: 4, duration: 2s}}
""",
    # Payloads of 50 B to 12 KB from a feeder: the two over 4 KiB fail.
    "big-body": f"""\
name: uploads
target: http://127.0.0.1:1
{HEADERS}data:
  payloads: {{csv: payloads.csv, order: random}}
flows:
  - name: upload
    steps:
      - request: {{name: upload, method: POST, url: /upload,
                  json: {{data: "{{{{ payloads.text }}}}"}}}}
        expect: {{status: 201}}
      - think: 2ms
plan:
  - {{stage: s, users: 4, duration: 2s}}
""",
}

EXPECTED = {
    "literal-value": (FindingClass.REQUEST_ATTRIBUTE, Attribution.SERVICE_BUG, "sort=price"),
    "if-match": (FindingClass.CONTENTION, Attribution.SERVICE_CAPACITY, "/docs/1"),
    "name-race": (FindingClass.RACE, Attribution.SERVICE_BUG, "timestamp"),
    "slow-id": (FindingClass.SLOW_INPUT, Attribution.SERVICE_BUG, "=7"),
    "big-body": (FindingClass.REQUEST_ATTRIBUTE, Attribution.SERVICE_BUG, "4 KiB or more"),
}


def _run(tmp_path: Path, scenario: str, fault: str | None, workers: int = 1) -> RunResult:
    path = write(tmp_path / "scenario.yaml", scenario)
    lengths = (50, 500, 2000, 6000, 12000)
    write(tmp_path / "payloads.csv", "text\n" + "".join("x" * n + "\n" for n in lengths))
    out = tmp_path / "runs"
    with FaultyService(fault) as url:
        run = loadlens(
            "run", str(path), "--target", url, "--out", str(out), "--quiet",
            "--workers", str(workers),
            out=out,
        )  # fmt: skip
    assert run.code in (0, 1, 3), run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return run.result()


_MEASURING = (Attribution.LOAD_GENERATOR, Attribution.MEASUREMENT)


def _about_the_service(result: RunResult) -> list[Finding]:
    return [f for f in result.findings if f.attribution not in _MEASURING]


def _describe(findings: list[Finding]) -> str:
    return "\n".join(
        f"{f.severity} {f.kind} {f.attribution} {f.operation}: {f.headline}" for f in findings
    )


@pytest.mark.parametrize("fault", sorted(SCENARIOS))
def test_the_fault_is_the_top_finding(tmp_path: Path, fault: str) -> None:
    result = _run(tmp_path, SCENARIOS[fault], fault)
    kind, attribution, named = EXPECTED[fault]
    findings = _about_the_service(result)
    assert findings, f"no finding for {fault}"
    top = findings[0]
    assert (top.kind, top.attribution) == (kind, attribution), _describe(result.findings)
    assert named in top.headline + " ".join(e.text for e in top.evidence), _describe([top])
    assert top.examples, top


def test_a_race_split_over_two_workers_is_still_the_top_finding(tmp_path: Path) -> None:
    # Each worker sees only its own requests in flight: about half the colliding names show
    # overlap, and the race must not depend on how the load was split.
    result = _run(tmp_path, SCENARIOS["name-race"], "name-race", workers=2)
    assert result.run.workers == 2
    findings = _about_the_service(result)
    assert findings, "no finding for name-race on 2 workers"
    top = findings[0]
    assert (top.kind, top.attribution) == (FindingClass.RACE, Attribution.SERVICE_BUG), _describe(
        result.findings
    )
    assert "timestamp" in top.headline, _describe([top])


def _every_flow() -> str:
    """One scenario with the flows of every fault's scenario (and the payload feeder)."""
    flows = []
    for text in SCENARIOS.values():
        body = text.split("flows:\n", 1)[1].split("plan:\n", 1)[0]
        flows.append(body)
    return (
        f"name: everything\ntarget: http://127.0.0.1:1\n{HEADERS}"
        "data:\n  payloads: {csv: payloads.csv, order: random}\n"
        "flows:\n" + "".join(flows) + "plan:\n  - {stage: s, users: 8, duration: 3s}\n"
    )


def test_the_same_service_clean_has_no_finding(tmp_path: Path) -> None:
    # every fault's flows in one run, against the service with every fault off
    result = _run(tmp_path, _every_flow(), None)
    assert len(result.operations) == 9, sorted(result.operations)
    noted = [
        f for f in _about_the_service(result) if f.severity in (Severity.MAJOR, Severity.MINOR)
    ]
    assert not noted, _describe(noted)
