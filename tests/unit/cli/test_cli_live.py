"""The live view renders what the accumulator has merged so far."""

from __future__ import annotations

from rich.console import Console

from loadlens.cli.live import LiveView
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Health
from loadlens.metrics.recorder import Recorder
from loadlens.metrics.result import StageInfo


def test_live_view_shows_each_operation_and_the_stage() -> None:
    stage = StageInfo("load", 0, {"model": "closed", "users": 5}, 10.0, 0.0)
    accumulator = RunAccumulator(["create", "read"], [stage])
    recorder = Recorder(["create", "read"])
    for value in range(1, 201):
        recorder.record(0, 1000 * value, "ok:201", 100, 200)
        recorder.record(1, 500, "status:404" if value % 10 == 0 else "ok:200", 50, 80)
    health = Health(
        cpu_percent=10.0,
        loop_lag_ms=0.5,
        in_flight=3,
        users=5,
        late=0,
        dropped=0,
        lateness_p99_ms=0.0,
    )
    accumulator.add(recorder.take_frame(0, 0, 0, health))
    console = Console(record=True, width=120)
    view = LiveView(console, stage_count=1)
    view.stage_started(stage)
    view.tick(stage, 1.5, accumulator)
    view.stage_finished(stage, accumulator)
    text = console.export_text()
    assert "stage 1/1 load" in text
    assert "create" in text and "read" in text
    assert "10.00 %" in text  # read's errors: 20 of 200
    assert "200" in text


def test_stages_count_as_the_plan_does_with_a_setup_and_gates_show_their_state() -> None:
    from loadlens.model.verdict import GateResult, GateStatus

    setup = StageInfo("setup", 0, {"model": "setup"}, 0.0, 0.0)
    smoke = StageInfo("smoke", 1, {"model": "closed", "users": 5}, 4.0, 0.0)
    load = StageInfo("load", 2, {"model": "open", "rate": 200.0}, 6.0, 2.0)
    accumulator = RunAccumulator(["read"], [setup, smoke, load])
    gate = GateResult(
        "p95 < 100ms", "load", GateStatus.FAILED, 340.0, 500, "< 100ms", measured_text="340.0 ms"
    )
    console = Console(record=True, width=120)
    view = LiveView(console, stage_count=2, gates=lambda index: [gate] if index == 2 else [])
    for info in (setup, smoke, load):
        view.stage_started(info)
        view.stage_finished(info, accumulator)
    text = console.export_text()
    assert "stage 3/2" not in text
    assert "setup ·   0.0s · in flight 0" in text
    assert "stage 1/2 smoke · users 0/5 ·   4.0s / 4.0s" in text
    assert "stage 2/2 load · rate 200/s ·   8.0s / 8.0s" in text
    assert "p95 < 100ms: FAILING (measured 340.0 ms)" in text
