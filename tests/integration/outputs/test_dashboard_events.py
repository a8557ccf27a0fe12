"""`--dashboard 127.0.0.1:0` on a real run: the page is served, its Server-Sent Events stream
is read over HTTP while the run goes and its numbers change from one event to the next; the
last event links to report.html, and the port is closed once the run has exited."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from tests.support.runs import RUN_TIMEOUT_S, running, write
from tests.support.testserver import LocalServer

# 2 users × 60 iterations with 100 ms of think time: about 3 s of load, bounded by iterations
# (not by a duration the test depends on), long enough for several 1-second states.
SCENARIO = """\
name: dash
target: http://127.0.0.1:1
steps:
  - request: {name: list, method: GET, url: /users}
  - think: 100ms
plan:
  - {stage: steady, users: 2, iterations: 120, gates: ["error_rate < 50%", "p95 < 5000ms"]}
"""
_MAX_EVENTS = 200  # a bound on the read: states come once a second


def _events(port: int) -> list[dict[str, Any]]:
    """Every `state` event of the stream, until the final one (or the stream ends)."""
    states: list[dict[str, Any]] = []
    with urlopen(f"http://127.0.0.1:{port}/events", timeout=RUN_TIMEOUT_S) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind, data = "", ""
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif not line and kind == "state":
                states.append(json.loads(data))
                kind, data = "", ""
                if states[-1]["finished"] or len(states) >= _MAX_EVENTS:
                    break
    return states


def test_dashboard_streams_changing_numbers_and_links_the_report(tmp_path: Path) -> None:
    scenario = write(tmp_path / "dash.yaml", SCENARIO)
    out = tmp_path / "out"
    with LocalServer("crud") as url, running(
        "run", str(scenario), "--target", url, "--out", str(out), "--quiet", "--workers", "1",
        "--dashboard", "127.0.0.1:0",
    ) as run:  # fmt: skip
        first = run.next_line()
        match = re.fullmatch(r"dashboard: http://127\.0\.0\.1:(\d+)/\n", first)
        assert match, first
        port = int(match.group(1))
        with urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            html = page.read().decode()
        states = _events(port)
        code, output = run.wait()
    assert code == 0, f"exit {code}\n{output}"

    # The page is one offline file that reads the stream.
    assert 'new EventSource("events")' in html
    assert "http://" not in html and "https://" not in html

    # The numbers change between events while the run goes, and only grow.
    live = [s for s in states if s["total"] is not None and not s["finished"]]
    counts = [s["total"]["count"] for s in live]
    assert len({c for c in counts if c > 0}) >= 2, counts
    assert counts == sorted(counts)
    assert any(s["total"]["rps"] > 0 for s in live), live
    assert all(s["stage"]["name"] == "steady" for s in live)

    # The final state: the whole stage, its gates judged, report.html linked.
    last = states[-1]
    assert last["finished"] is True
    assert last["total"]["count"] == 120 and last["errors"] == {}
    assert 0 < last["total"]["p50_ms"] <= last["total"]["p95_ms"] <= last["total"]["p99_ms"]
    assert [g["gate"] for g in last["gates"]] == ["error_rate < 50%", "p95 < 5000ms"]
    assert {g["status"] for g in last["gates"]} == {"passed"}
    # counted in iterations: its length is the time limit, and the ETA says "at most"
    assert last["plan"]["stages"] == [
        {"name": "steady", "length_s": 600.0, "counted": True, "state": "done"}
    ]
    assert live[0]["plan"]["eta_is_limit"] is True
    report = Path(last["report"]["path"])
    assert report.name == "report.html" and report.is_file()
    assert f"report: {report}" in output

    # The run has exited: nothing listens on the port any more.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
