"""Dashboard fed by hand: what its state says, how often it reads the accumulator, what each
route serves, the ETA, the gates, and the port (busy, port 0, closed)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from loadlens.errors import UsageError
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.result import StageInfo
from loadlens.model.verdict import GateResult, GateStatus
from loadlens.outputs.dashboard import Dashboard, parse_dashboard_address
from loadlens.outputs.dashboard_state import PlannedStage
from loadlens.outputs.snapshot import RunLabels
from tests.support.frames import Clock, one_op_frame

STAGE = StageInfo("smoke", 0, {"model": "open", "rate": 20.0}, 10.0, 2.0)
PLAN = [PlannedStage("smoke", 12.0), PlannedStage("load", 30.0)]
LABELS = RunLabels(lambda: "run-1", "users", "http://127.0.0.1:8000")


def _frame(second: int, latencies_us: list[int], outcomes: dict[str, int]) -> Frame:
    health = Health(cpu_percent=12.5, loop_lag_ms=3.0, in_flight=2, users=0, late=1)
    return one_op_frame(second, latencies_us, outcomes, operation="get", health=health)


def _gates(stage: int) -> list[GateResult]:
    return [
        GateResult("p95 < 20ms", "smoke", GateStatus.FAILED, 50.0, 10, "< 20ms",
                   measured_text="50ms"),
        GateResult("error_rate < 1%", "smoke", GateStatus.INSUFFICIENT, None, 10, "< 1%"),
    ]  # fmt: skip


def _get(dashboard: Dashboard, path: str) -> tuple[str, str]:
    with urlopen(f"http://127.0.0.1:{dashboard.port}{path}", timeout=5) as response:
        return response.headers["content-type"], response.read().decode()


def _state(dashboard: Dashboard) -> dict[str, Any]:
    kind, body = _get(dashboard, "/state")
    assert kind == "application/json"
    state: dict[str, Any] = json.loads(body)
    return state


def test_state_is_read_once_a_second_and_served_as_json(tmp_path: Path) -> None:
    clock = Clock()
    dashboard = Dashboard("127.0.0.1", 0, LABELS, PLAN, gates=_gates, clock=clock)
    accumulator = RunAccumulator(["get"], [STAGE])
    url = dashboard.start()
    try:
        assert url == f"http://127.0.0.1:{dashboard.port}/"
        assert _state(dashboard)["stage"] is None  # served before the first stage
        dashboard.stage_started(STAGE)
        accumulator.add(_frame(0, [2000] * 9 + [50_000], {"ok:200": 9, "status:503": 1}))
        clock.now += 1.0
        dashboard.tick(STAGE, 4.0, accumulator)
        first = _state(dashboard)
        seq = dashboard.published().seq
        accumulator.add(_frame(1, [2000] * 10, {"ok:200": 8, "error:timeout": 2}))
        clock.now += 0.5  # within the second: not read again
        dashboard.tick(STAGE, 4.5, accumulator)
        assert dashboard.published().seq == seq
        clock.now += 0.5
        dashboard.tick(STAGE, 5.0, accumulator)
        second = _state(dashboard)
        history = json.loads(_get(dashboard, "/history")[1])
        report = tmp_path / "report.html"
        with pytest.raises(HTTPError, match="404"):
            _get(dashboard, "/report")
        dashboard.stage_finished(STAGE, accumulator)
        report.write_text("<p>the report</p>", encoding="utf-8")
        dashboard.report_written(str(report))
        final = _state(dashboard)
        assert _get(dashboard, "/report") == ("text/html; charset=utf-8", "<p>the report</p>")
        kind, page = _get(dashboard, "/")
        assert kind == "text/html; charset=utf-8" and "<title>loadlens live</title>" in page
    finally:
        dashboard.close()
        dashboard.close()  # twice is fine

    assert first["run"] == {"id": "run-1", "scenario": "users",
                            "target": "http://127.0.0.1:8000", "elapsed_s": 1.0}  # fmt: skip
    assert first["stage"]["load"] == {"model": "open", "rate": 20.0}
    assert first["stage"]["elapsed_s"] == 4.0 and first["stage"]["length_s"] == 12.0
    assert first["total"]["count"] == 10 and first["total"]["error_rate"] == 0.1
    assert first["errors"] == {"status:503": 1}
    # the ETA: 8 s left of this stage, 30 s of the next
    assert first["plan"] == {
        "stages": [
            {"name": "smoke", "length_s": 12.0, "counted": False, "state": "running"},
            {"name": "load", "length_s": 30.0, "counted": False, "state": "pending"},
        ],
        "eta_s": 38.0,
        "eta_is_limit": False,
    }
    assert first["gates"] == [
        {"gate": "p95 < 20ms", "status": "failed", "measured": "50ms", "target": "< 20ms",
         "samples": 10, "default": False},
        {"gate": "error_rate < 1%", "status": "insufficient", "measured": "", "target": "< 1%",
         "samples": 10, "default": False},
    ]  # fmt: skip
    assert first["generator"]["late"] == 1
    assert second["total"]["count"] == 20 and second["total"]["rps"] == 10.0
    assert second["total"]["p50_ms"] == pytest.approx(2.0, rel=0.01)
    assert second["total"]["p99_ms"] == pytest.approx(50.0, rel=0.01)
    assert second["errors"] == {"error:timeout": 2, "status:503": 1}  # most first
    assert second["plan"]["eta_s"] == 37.0 and not second["finished"]
    # the charts' points, for a page opened late: [run second, rps, p50, p95, p99]
    assert [point[:2] for point in history] == [[1.0, 10.0], [2.0, 10.0]]
    assert history[-1][2:] == [
        second["total"]["p50_ms"],
        second["total"]["p95_ms"],
        second["total"]["p99_ms"],
    ]
    assert final["finished"] is True and final["total"]["rps"] == 0.0
    assert final["report"] == {"url": "report", "path": str(report)}
    assert [s["state"] for s in final["plan"]["stages"]] == ["done", "pending"]


def test_the_event_stream_sends_each_state_once_and_ends_after_the_final_one() -> None:
    dashboard = Dashboard("127.0.0.1", 0, LABELS, PLAN)
    dashboard.start()
    try:
        dashboard.stage_started(STAGE)  # seq 2 (1: at start)
        dashboard.report_written(None)  # seq 3, final
        with urlopen(f"http://127.0.0.1:{dashboard.port}/events", timeout=10) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            text = response.read().decode()  # ends: the final state was sent
    finally:
        dashboard.close()
    events = [block for block in text.split("\n\n") if block.startswith("event: state")]
    assert text.startswith("retry: 1000\n\n")
    assert len(events) == 1  # a late page gets the last state only
    lines = events[0].split("\n")
    assert lines[1] == "id: 3"
    state = json.loads(lines[2].removeprefix("data: "))
    assert state["finished"] is True and state["report"] is None


def test_close_frees_the_port_and_a_busy_port_is_a_usage_error() -> None:
    first = Dashboard("127.0.0.1", 0, LABELS, PLAN)
    first.start()
    port = first.port
    try:
        with pytest.raises(UsageError, match=f"--dashboard cannot listen on 127.0.0.1:{port}"):
            Dashboard("127.0.0.1", port, LABELS, PLAN).start()
    finally:
        first.close()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8089", ("127.0.0.1", 8089)), ("0", ("127.0.0.1", 0)), ("[::1]:9000", ("::1", 9000))],
)
def test_dashboard_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_dashboard_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "70000", "host:port"])
def test_bad_dashboard_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--dashboard wants"):
        parse_dashboard_address(text)
