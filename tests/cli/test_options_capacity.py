"""`loadlens capacity` options the search test does not see at work: --growth's factor,
--max-rate's ceiling, --budget's stop, and the --probe, --confirm and --warmup holds, against a
fast local server and a loose SLO."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.runs import loadlens, write
from tests.support.testserver import LocalServer

READS = """\
name: ceiling
target: http://127.0.0.1:1
steps:
  - request: {name: list, method: GET, url: /users}
plan:
  - {stage: placeholder, users: 1, duration: 1s}
"""


def test_growth_multiplies_the_rate_and_max_rate_caps_the_search(tmp_path: Path) -> None:
    scenario = write(tmp_path / "reads.yaml", READS)
    out = tmp_path / "runs"
    with LocalServer("crud") as url:
        run = loadlens(
            "capacity", str(scenario), "--target", url,
            "--slo", "error_rate < 50%", "--start-rate", "10", "--growth", "3",
            "--max-rate", "40", "--probe", "1s", "--warmup", "0s", "--confirm", "1.5s",
            "--budget", "60s", "--workers", "1", "--quiet", "--out", str(out), out=out,
        )  # fmt: skip
    assert run.code in (0, 1), run.stdout + run.stderr
    (stored,) = out.glob("*/capacity.json")
    found = json.loads(stored.read_text(encoding="utf-8"))
    probes = found["probes"]
    assert (probes[0]["rate"], probes[0]["kind"]) == (10.0, "grow")
    assert all(p["rate"] <= 40.0 for p in probes)
    # Every probe passes this SLO, but on a busy machine one may still fail because the
    # generator started more than 5 % of its arrivals late: then the search bisects instead.
    # Each growth step it takes is checked: 3 x the highest passing rate, capped at 40.
    highest = 0.0
    for probe in probes:
        if probe["kind"] == "grow" and highest:
            assert probe["rate"] == min(3 * highest, 40.0), probes
        if probe["passed"]:
            highest = max(highest, probe["rate"])
    # --probe and --confirm: how long each probe's run held its rate, in probe order
    held = [stage["duration_s"] for stage in _stages(stored.parent)]
    assert held == [1.5 if p["kind"] == "confirm" else 1.0 for p in probes]
    if all(p["passed"] for p in probes):  # the usual case: 10, 30, 40, confirmed at 40
        assert [(p["rate"], p["kind"]) for p in probes] == [
            (10.0, "grow"), (30.0, "grow"), (40.0, "grow"), (40.0, "confirm"),
        ]  # fmt: skip
        assert (found["stopped_because"], found["capacity"]) == ("max_rate", 40.0)


def _stages(search: Path) -> list[dict[str, object]]:
    """The stages of the probes' runs beside capacity.json, in the order they ran."""
    results = [
        json.loads(path.read_text(encoding="utf-8")) for path in search.glob("*/result.json")
    ]
    results.sort(key=lambda result: result["run"]["started_at"])
    return [stage["info"] for result in results for stage in result["stages"]]


def test_budget_stops_the_search_before_a_probe_that_would_overrun_it(tmp_path: Path) -> None:
    # A probe costs --warmup + --probe = 1.5 s: the first fits in 2 s, the second cannot
    # (the first alone took at least its 1.5 s), whatever the machine's speed.
    scenario = write(tmp_path / "reads.yaml", READS)
    out = tmp_path / "runs"
    with LocalServer("crud") as url:
        run = loadlens(
            "capacity", str(scenario), "--target", url,
            "--slo", "error_rate < 50%", "--start-rate", "10", "--budget", "2s",
            "--probe", "1s", "--warmup", "0.5s", "--workers", "1", "--quiet", "--out", str(out),
            out=out,
        )  # fmt: skip
    assert run.code in (0, 1), run.stdout + run.stderr
    (stored,) = out.glob("*/capacity.json")
    found = json.loads(stored.read_text(encoding="utf-8"))
    assert [(p["rate"], p["kind"]) for p in found["probes"]] == [(10.0, "grow")]
    assert found["stopped_because"] == "budget"
    # --warmup: the probe's run warmed up at its rate before the measured hold
    held = [(stage["duration_s"], stage["load"]["rate"]) for stage in _stages(stored.parent)]  # type: ignore[index]
    assert held == [(0.5, 10.0), (1.0, 10.0)]
