"""Capacity search stability against the demo service with `small-pool` (issue #4's check).

    .venv/bin/python bench/capacity_stability.py [--runs 3] [--budget 4m]

Runs `loadlens capacity` several times against a fresh demo service whose database pool has
two connections, then holds 20 % above each answer to show the SLO breaks there, and writes
the table into docs/benchmarks.md between its markers. Every request goes to 127.0.0.1; each
command is bounded by a timeout. Not part of `make test`: it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from loadlens.demo import DemoServer

ROOT = Path(__file__).resolve().parent.parent
SLO = "p95 < 50ms, error_rate < 1%"
BEGIN = "<!-- capacity-stability:begin -->"
END = "<!-- capacity-stability:end -->"
SCENARIO = """\
name: pool-reads
target: http://127.0.0.1:1
flows:
  - name: read
    steps:
      - request: {name: read, method: GET, url: "/authorizations/{{ random_int(1, 55) }}"}
plan:
  - {stage: hold, rate: RATE/s, duration: 15s, gates: ["p95 < 50ms", "error_rate < 1%"]}
"""


def loadlens(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, bounded."""
    return subprocess.run(
        [sys.executable, "-m", "loadlens", *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT,
    )  # fmt: skip


def search(url: str, scenario: Path, out: Path, budget: str) -> dict[str, object]:
    """One capacity search; its capacity.json."""
    run = loadlens(
        "capacity", str(scenario), "--target", url, "--slo", SLO, "--start-rate", "100",
        "--probe", "5s", "--warmup", "2s", "--confirm", "15s", "--budget", budget,
        "--workers", "1", "--quiet", "--out", str(out), timeout=900,
    )  # fmt: skip
    found = sorted(out.glob("*/capacity.json"))[-1]
    data: dict[str, object] = json.loads(found.read_text(encoding="utf-8"))
    data["exit"] = run.returncode
    return data


def hold(url: str, rate: float, work: Path) -> str:
    """The verdict of a 15 s hold at `rate` with the SLO as gates."""
    scenario = work / f"hold-{rate:.0f}.yaml"
    scenario.write_text(SCENARIO.replace("RATE", f"{rate:.1f}"), encoding="utf-8")
    out = work / f"hold-{rate:.0f}"
    loadlens("run", str(scenario), "--target", url, "--workers", "1", "--quiet", "--out",
             str(out), timeout=300)  # fmt: skip
    result = json.loads(next(out.glob("*/result.json")).read_text(encoding="utf-8"))
    return str(result["verdict"]["kind"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", default="4m")
    args = parser.parse_args()
    rows: list[str] = []
    capacities: list[float] = []
    with tempfile.TemporaryDirectory(prefix="loadlens-capacity-") as tmp:
        work = Path(tmp)
        scenario = work / "reads.yaml"
        scenario.write_text(SCENARIO.replace("RATE", "1"), encoding="utf-8")
        for number in range(1, args.runs + 1):
            with DemoServer(work / f"demo{number}", faults=["small-pool"]) as server:
                assert server.url is not None
                found = search(server.url, scenario, work / f"search{number}", args.budget)
                capacity = found["capacity"]
                above = "–"
                if isinstance(capacity, float):
                    capacities.append(capacity)
                    above = hold(server.url, capacity * 1.2, work)
                probes = found["probes"]
                assert isinstance(probes, list)
                rows.append(
                    f"| {number} | {capacity} | {found['confirmed']} | {found['last_pass']} | "
                    f"{found['first_fail']} | {len(probes)} | {found['stopped_because']} | "
                    f"{above} |"
                )
                print(rows[-1], flush=True)
                for probe in probes:
                    print(f"    {probe['kind']:8} {probe['rate']:8.1f}/s "
                          f"{'held ' if probe['passed'] else 'broke'} {probe['reason'][:150]}",
                          flush=True)  # fmt: skip
    spread = "–"
    if len(capacities) > 1:
        mean = statistics.fmean(capacities)
        spread = f"{100 * max(abs(c - mean) for c in capacities) / mean:.1f} %"
    section = "\n".join([
        BEGIN,
        "## Capacity search stability (demo service, `small-pool`)",
        "",
        f"`.venv/bin/python bench/capacity_stability.py --runs {args.runs} --budget "
        f"{args.budget}`: `loadlens capacity` with `--slo \"{SLO}\"` (start 100/s, growth 2, "
        "precision 5 %, probes 2 s warm-up + 5 s, confirmation 15 s, one worker) against a "
        "fresh demo service each time; then a 15 s hold at 1.2 × the answer with the SLO as "
        "gates (its verdict should be `no_go`).",
        "",
        "| run | capacity /s | confirmed | last pass /s | first fail /s | probes | stopped | "
        "verdict at 1.2 × |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Largest deviation from the mean capacity: **{spread}** (target ±15 %).",
        END,
    ])  # fmt: skip
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"spread: {spread}")


if __name__ == "__main__":
    main()
