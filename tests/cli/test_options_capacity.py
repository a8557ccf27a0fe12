"""`loadlens capacity` options the search test does not see at work: --growth's factor,
--max-rate's ceiling, --budget's stop, and the --probe, --confirm and --warmup holds, against a
fast local server and a loose SLO; --precision's stop, against a server whose capacity is
fixed by construction (a token bucket)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.runs import loadlens, write
from tests.support.testserver import BUCKET_BURST, BUCKET_RATE, LocalServer

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


# The bucket server serves at most BUCKET_RATE * T + BUCKET_BURST requests in T seconds; a 1 s
# probe at R req/s passes `error_rate < 10%` while that is at least 90 % of its R arrivals:
# the edge is (100 + 30) / 0.9 = 144 req/s. Its window is 1 s as the generator schedules it;
# the server may see it stretched or squeezed by a busy machine's delays, by up to 0.15 s here
# (15 requests either way), so the edge a probe meets lies between these two.
_SLO_ERRORS = 0.10
_SLACK_S = 0.15
EDGE_LOW = (BUCKET_RATE * (1 - _SLACK_S) + BUCKET_BURST) / (1 - _SLO_ERRORS)  # 128 req/s
EDGE_HIGH = (BUCKET_RATE * (1 + _SLACK_S) + BUCKET_BURST) / (1 - _SLO_ERRORS)  # 161 req/s


def _search(tmp_path: Path, precision: str) -> dict[str, object]:
    scenario = write(tmp_path / "reads.yaml", READS)
    out = tmp_path / f"runs-{precision}"
    # a fresh server (and full bucket) per search; --warmup 0s: no unmeasured probe drains it
    with LocalServer("bucket") as url:
        run = loadlens(
            "capacity", str(scenario), "--target", url,
            "--slo", f"error_rate < {_SLO_ERRORS:.0%}", "--start-rate", "50", "--growth", "2",
            "--precision", precision, "--probe", "1s", "--warmup", "0s", "--confirm", "1s",
            "--budget", "120s", "--workers", "1", "--quiet", "--out", str(out), out=out,
        )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr  # a capacity was found
    (stored,) = out.glob("*/capacity.json")
    found: dict[str, object] = json.loads(stored.read_text(encoding="utf-8"))
    return found


def test_precision_stops_the_bisection_at_the_bracket_width_asked(tmp_path: Path) -> None:
    coarse = _search(tmp_path, "0.5")
    fine = _search(tmp_path, "0.05")
    for found in (coarse, fine):
        assert found["stopped_because"] == "converged", found
        # Every probe is on the side of the edge its rate puts it: a pass below EDGE_HIGH, a
        # failure above EDGE_LOW, unless the generator (not the service) failed it: on a busy
        # machine a probe may start more than 5 % of its arrivals late (see above).
        for probe in _probes(found):
            if probe["passed"]:
                assert probe["rate"] < EDGE_HIGH, found
            elif not _generator_failed(probe):
                assert probe["rate"] > EDGE_LOW, found
        # ... and so the answer lies below the edge, and above it the first failure
        assert found["capacity"] < EDGE_HIGH  # type: ignore[operator]
    # 0.5 stops at the first bracket within 50 %; 0.05 goes on bisecting to within 5 %
    assert 0.05 < _width(coarse) <= 0.5, coarse
    assert _width(fine) <= 0.05, fine
    assert _bisections(fine) > _bisections(coarse), (coarse, fine)
    if not any(_generator_failed(p) for p in _probes(coarse) + _probes(fine)):  # the usual case
        for found in (coarse, fine):
            # grown from 50: 50 and 100 pass (no 503 below the bucket's rate), 200 fails
            assert [(p["rate"], p["kind"], p["passed"]) for p in _probes(found)[:3]] == [
                (50.0, "grow", True), (100.0, "grow", True), (200.0, "grow", False),
            ]  # fmt: skip
            assert found["first_fail"] > EDGE_LOW  # type: ignore[operator]
        # 0.5: one bisection of 100..200 is enough (150 fails: 0.5 wide; passes: 0.33); 0.05
        # at least three more (0.5 -> 0.25 -> 0.125 -> 0.0625 -> 0.031, or fewer where a
        # passing midpoint narrows the bracket more, never under three)
        assert _bisections(coarse) == 1, coarse
        assert _bisections(fine) >= 4, fine


def _probes(found: dict[str, object]) -> list[dict[str, object]]:
    probes: list[dict[str, object]] = found["probes"]  # type: ignore[assignment]
    return probes


def _generator_failed(probe: dict[str, object]) -> bool:
    return not probe["passed"] and str(probe["reason"]).startswith("generator saturated")


def _width(found: dict[str, object]) -> float:
    """The answer's bracket, (first failure - capacity) / capacity."""
    capacity, first_fail = found["capacity"], found["first_fail"]
    assert isinstance(capacity, float) and isinstance(first_fail, float), found
    return (first_fail - capacity) / capacity


def _bisections(found: dict[str, object]) -> int:
    return sum(p["kind"] == "bisect" for p in _probes(found))
