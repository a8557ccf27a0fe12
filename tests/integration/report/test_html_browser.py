"""report.html in a real browser: headless Chromium renders the report of a real run.

Chromium (Debian's `chromium` package) is required, not optional: without it this test fails
and says how to install it. The screenshot stays in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from loadlens.report.write import write_reports
from tests.support.runs import loadlens, write
from tests.support.testserver import LocalServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
BROWSER_TIMEOUT_S = 90

SCENARIO = """\
name: report-browser
target: http://127.0.0.1:1
flows:
  - name: crud
    weight: 3
    steps:
      - request: {name: create, method: POST, url: /users, json: {name: ada}}
        expect: {status: 201}
        capture: {id: $.id}
      - request: {name: read, method: GET, url: "/users/{{ id }}"}
  - name: lost
    weight: 1
    steps:
      - request: {name: missing, method: GET, url: /users/nobody}
plan:
  - {stage: warm, users: 2, duration: 2s, gates: ["error_rate < 50%"]}
  - {stage: push, rate: 40/s, duration: 2s, gates: ["p95 < 500ms"]}
"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, (
        "headless Chromium is needed to check report.html: install Debian's package with "
        "`apt-get install -y chromium` (CI does this in .ci/run)"
    )
    return path


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        check=False,
    )


def test_a_real_runs_report_renders_in_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    scenario = write(tmp_path / "scenario.yaml", SCENARIO)
    runs = tmp_path / "runs"
    with LocalServer("crud") as url:
        run = loadlens(
            "run", str(scenario), "--target", url, "--out", str(runs), "--workers", "1",
            "--quiet", out=runs,
        )  # fmt: skip
    assert run.code == 0, run.stderr
    page = write_reports(run.result(), run.run_dir)[1]

    dom = _browser(chromium, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert re.search(r'id="verdict" data-verdict="(GO|NO-GO|INCONCLUSIVE|NO VERDICT)"', html)
    assert '<section id="gates">' in html
    if run.result().gates:
        assert '<table data-table="gates">' in html
    else:  # until the run judges its gates
        assert "No gates were defined or judged." in html
    assert '<table data-table="operations">' in html
    charts = re.findall(r'<svg [^>]*data-chart="([^"]+)"', html)
    assert len(charts) >= 3, charts
    assert {"throughput", "latency-over-time", "latency-distribution"} <= set(charts)
    assert html.count("<polyline") >= 3  # lines were drawn, not just empty axes

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report-browser.png"
    screenshot.unlink(missing_ok=True)
    shot = _browser(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,2400",
        page.as_uri(),
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000  # a blank page compresses far below this
    shutil.copy(page, ARTIFACTS / "report-browser.html")
