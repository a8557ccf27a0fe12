"""The live dashboard in a real browser: headless Chromium opens `--dashboard` during a run and
sees the displayed numbers change, then the link to report.html appear once it is written.

Chromium (Debian's `chromium` package) is required, not optional, as for report.html's test.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.chromium_cdp import Page
from tests.support.runs import RUN_TIMEOUT_S, running, write
from tests.support.testserver import LocalServer

# 2 users × 120 iterations with 100 ms of think time: about 6 s of load, bounded by iterations,
# long enough for Chromium to start and see several 1-second updates on a busy machine.
SCENARIO = """\
name: dash-browser
target: http://127.0.0.1:1
steps:
  - request: {name: list, method: GET, url: /users}
  - think: 100ms
plan:
  - {stage: steady, users: 2, iterations: 240, gates: ["error_rate < 50%"]}
"""
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
_LOOK_EVERY_S = 0.25
_MAX_LOOKS = 400  # a bound on the loop: 100 s of looking at most
_SHOWN = """(() => {
  const text = (selector) => (document.querySelector(selector) || {}).textContent || "";
  const report = document.getElementById("report");
  return {
    seq: Number((document.body && document.body.dataset.seq) || 0),
    count: text("#count"),
    stage: text("#stage"),
    gate: text("#gates td:nth-child(2)"),
    report: Boolean(report && report.style.display === "block"),
    href: (document.getElementById("report-link") || {}).href || "",
  };
})()"""


def _watch(browser: Page, url: str, process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """What the page showed, looked at four times a second until it links the report (or the
    run has ended and the page shows nothing new)."""
    browser.open(url, RUN_TIMEOUT_S)
    seen: list[dict[str, Any]] = []
    for _ in range(_MAX_LOOKS):
        shown = browser.evaluate(_SHOWN)
        if not seen or shown != seen[-1]:
            seen.append(shown)
        if shown["report"] or process.poll() is not None:
            _screenshot(browser)
            break
        time.sleep(_LOOK_EVERY_S)
    return seen


def _screenshot(browser: Page) -> None:
    """The page as it ended, kept in tests/artifacts/ for a person to look at."""
    metrics = {"width": 1200, "height": 1100, "deviceScaleFactor": 1, "mobile": False}
    browser.command("Emulation.setDeviceMetricsOverride", metrics)
    shot = browser.command("Page.captureScreenshot", {"format": "png"})
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard.png").write_bytes(base64.b64decode(shot["data"]))


def test_chromium_sees_the_dashboard_numbers_change_during_a_run(tmp_path: Path) -> None:
    scenario = write(tmp_path / "dash.yaml", SCENARIO)
    out = tmp_path / "out"
    with LocalServer("crud") as target, running(
        "run", str(scenario), "--target", target, "--out", str(out), "--quiet", "--workers", "1",
        "--dashboard", "0",
    ) as run:  # fmt: skip
        first = run.next_line()
        match = re.fullmatch(r"dashboard: (http://127\.0\.0\.1:\d+/)\n", first)
        assert match, first
        with Page(tmp_path / "profile") as browser:
            seen = _watch(browser, match.group(1), run.process)
        code, output = run.wait()
    assert code == 0, f"exit {code}\n{output}"

    # The displayed request count changed between updates while the run went, and grew.
    live = [s for s in seen if s["stage"] == "steady" and not s["report"]]
    counts = [int(s["count"].replace(",", "")) for s in live if s["count"].strip("\u2013")]
    assert len(set(counts)) >= 2, seen
    assert counts == sorted(counts), counts
    assert len({s["seq"] for s in live}) >= 2, seen

    # Once the report was written the page linked it, with the gate judged.
    last = seen[-1]
    assert last["report"] is True, seen
    assert last["href"] == match.group(1) + "report"
    assert last["gate"] == "passed"
    assert last["count"] == "240"
