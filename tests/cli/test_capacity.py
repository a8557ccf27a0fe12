"""`loadlens capacity` against the demo service with its small database pool."""

from __future__ import annotations

import json
from pathlib import Path

from loadlens.demo import DemoServer
from tests.support.runs import loadlens, write

READS = """\
name: pool-reads
target: http://127.0.0.1:1
flows:
  - name: read
    steps:
      - request: {name: read, method: GET, url: "/authorizations/{{ random_int(1, 55) }}"}
plan:
  - {stage: placeholder, users: 1, duration: 1s}
"""


def test_capacity_search_probes_bisects_and_stores_its_answer(tmp_path: Path) -> None:
    scenario = write(tmp_path / "reads.yaml", READS)
    out = tmp_path / "runs"
    with DemoServer(tmp_path / "demo", faults=["small-pool"]) as server:
        assert server.url is not None
        run = loadlens(
            "capacity", str(scenario), "--target", server.url,
            "--slo", "p95 < 50ms, error_rate < 1%", "--start-rate", "100", "--growth", "3",
            "--precision", "0.25", "--probe", "1s",
            "--warmup", "0s", "--confirm", "2s", "--budget", "25s", "--workers", "1",
            "--quiet", "--out", str(out), out=out,
        )  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    assert run.code in (0, 1), run.stdout + run.stderr
    (stored,) = out.glob("*/capacity.json")
    found = json.loads(stored.read_text(encoding="utf-8"))
    assert found["slo"] == ["p95 < 50ms", "error_rate < 1%"]
    probes = found["probes"]
    assert probes[0]["rate"] == 100.0 and probes[0]["kind"] == "grow"
    assert {p["kind"] for p in probes} <= {"grow", "bisect", "confirm"}
    assert all({"p95_ms", "error_rate", "throughput"} <= set(p["measured"]) for p in probes)
    # every probe kept its own run directory beside capacity.json
    assert len([d for d in stored.parent.iterdir() if d.is_dir()]) == len(probes)
    assert found["stopped_because"] in ("converged", "budget", "max_rate", "never_passed")
    if found["capacity"] is not None:
        assert run.code == 0
        assert found["first_fail"] is None or found["capacity"] < found["first_fail"]
        assert f"capacity: {found['capacity']:,.1f} req/s" in run.stdout
    assert "Probes" in run.stdout
    page = (stored.parent / "capacity.html").read_text(encoding="utf-8")
    assert page.count('<tr><td class="num">') == len(probes)  # a row per probe
    assert 'data-chart="capacity-probes"' in page
    assert f"report: {stored.parent / 'capacity.html'}" in run.stdout.replace("\n", "")
