"""Bounded memory: a long run at full speed, the workers' RSS sampled every 10 s (issue #5).

    .venv/bin/python bench/memory_soak.py [--minutes 5]

Runs `loadlens run` (one worker, 20 closed-model users, no think time) against the test suite's
CRUD server on 127.0.0.1 with a scenario that exercises everything the diagnosis records:
templated ids of ever new values (value shapes, feature sets), captures, 404s (error templates,
samples). Samples the worker process's RSS with psutil and writes the table into
docs/benchmarks.md between its markers. Bounded: the run stops by itself after its duration.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.testserver import LocalServer  # noqa: E402

BEGIN = "<!-- memory-soak:begin -->"
END = "<!-- memory-soak:end -->"
SCENARIO = """\
name: memory-soak
target: http://127.0.0.1:1
defaults:
  headers: {{content-type: application/json}}
flows:
  - name: crud
    weight: 70
    steps:
      - request: {{name: create, method: POST, url: /users, json: {{name: "u{{{{ uuid }}}}"}}}}
        expect: {{status: 201}}
        capture: {{id: $.id}}
      - request: {{name: read, method: GET, url: "/users/{{{{ id }}}}"}}
      - request: {{name: update, method: PUT, url: "/users/{{{{ id }}}}", json: {{age: 41}}}}
  - name: missing
    weight: 30
    steps:
      - request: {{name: read-missing, method: GET,
                  url: "/users/ghost-{{{{ random_int(1, 1000000) }}}}"}}
plan:
  - {{stage: soak, users: 20, duration: {seconds}s}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    samples: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="loadlens-soak-") as tmp, LocalServer("crud") as url:
        scenario = Path(tmp) / "soak.yaml"
        scenario.write_text(SCENARIO.format(seconds=seconds), encoding="utf-8")
        command = [sys.executable, "-m", "loadlens", "run", str(scenario), "--target", url,
                   "--workers", "1", "--quiet", "--out", str(Path(tmp) / "runs")]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        try:
            while process.poll() is None and time.monotonic() - started < seconds + 120:
                workers = psutil.Process(process.pid).children()
                if workers:
                    rss = sum(w.memory_info().rss for w in workers) / 2**20
                    samples.append((time.monotonic() - started, rss))
                    print(f"{samples[-1][0]:6.0f} s  {rss:7.1f} MB", flush=True)
                time.sleep(10)
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    # The summary's totals row starts with "requests" (inside the table's borders); other
    # lines may mention requests too.
    requests = next(
        (ln for ln in output.splitlines() if ln.strip(" │┃|").startswith("requests")), ""
    )
    after_first_minute = [rss for t, rss in samples if t >= 60]
    growth = max(after_first_minute) - after_first_minute[0] if after_first_minute else 0.0
    rows = [f"| {t:.0f} | {rss:.1f} |" for t, rss in samples]
    section = "\n".join([
        BEGIN,
        "## Bounded memory over a long run",
        "",
        f"`.venv/bin/python bench/memory_soak.py --minutes {args.minutes:g}`: one worker, "
        "20 users flat out against the test suite's CRUD server on 127.0.0.1, a scenario with "
        "ever new ids (value shapes, features), captures and 404s (error templates, samples). "
        f"The run's totals line: `{requests.strip(' │')}`.",
        "",
        "| seconds | worker RSS (MB) |",
        "|---|---|",
        *rows,
        "",
        f"Growth after the first minute: **{growth:.1f} MB** (target < 50 MB).",
        END,
    ])  # fmt: skip
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"growth after the first minute: {growth:.1f} MB")


if __name__ == "__main__":
    main()
