"""Start-up + wrap-up of a 1-second run, this build against another, interleaved (issue 20).

    python bench/startup_runs.py http://127.0.0.1:PORT/ /work/wt/base20 [--runs 10]

runs `loadlens quick URL -u 2 -d 1s --quiet --out DIR --store sqlite:///DIR/h.db` RUNS times
with each build's own .venv, alternating (the other build first), under `/usr/bin/time`, and
prints each run's wall and user + sys (the whole process tree), then each build's median and
range. Both builds' bytecode caches are written first, as an installed package has them (this
environment sets PYTHONDONTWRITEBYTECODE=1, so an editable install never gets them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("other", type=Path, help="the other build's worktree (with its .venv)")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    builds = {"before": args.other.resolve(), "after": HERE}
    for root in builds.values():
        subprocess.run(
            [root / ".venv/bin/python", "-m", "compileall", "-q", root / "src"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in builds}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for name, root in builds.items():
                out = Path(tmp) / f"{name}-{run}"
                timing = Path(tmp) / "time"
                subprocess.run(
                    ["/usr/bin/time", "-o", timing, "-f", "%e %U %S",
                     root / ".venv/bin/loadlens", "quick", args.url, "-u", "2", "-d", "1s",
                     "--quiet", "--out", out, "--store", f"sqlite:///{out}/h.db"],
                    stdout=subprocess.DEVNULL,
                    check=False,
                )  # fmt: skip
                wall, user, system = (float(x) for x in timing.read_text().split()[-3:])
                times[name].append((wall, user + system))
                print(f"{name} {wall:.2f} {user + system:.2f}", flush=True)
    for name, values in times.items():
        walls = [wall for wall, _ in values]
        cpus = [cpu for _, cpu in values]
        print(
            f"{name}: wall median {statistics.median(walls):.2f} s "
            f"({min(walls):.2f}-{max(walls):.2f}), user+sys median "
            f"{statistics.median(cpus):.2f} s ({min(cpus):.2f}-{max(cpus):.2f}), "
            f"{len(values)} runs"
        )


if __name__ == "__main__":
    main()
