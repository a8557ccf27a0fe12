"""`loadlens capacity` options the search test does not see at work: --growth's factor and
--max-rate's ceiling, against a fast local server whose every probe passes a loose SLO."""

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
            "--max-rate", "40", "--probe", "1s", "--warmup", "0s", "--confirm", "1s",
            "--budget", "60s", "--workers", "1", "--quiet", "--out", str(out), out=out,
        )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    (stored,) = out.glob("*/capacity.json")
    found = json.loads(stored.read_text(encoding="utf-8"))
    probes = [(p["rate"], p["kind"]) for p in found["probes"]]
    # 10, then 10·3 = 30, then 90 capped to 40, which is confirmed and ends the search
    assert probes == [(10.0, "grow"), (30.0, "grow"), (40.0, "grow"), (40.0, "confirm")]
    assert found["stopped_because"] == "max_rate"
    assert found["capacity"] == 40.0
