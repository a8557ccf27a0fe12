"""Wires the gates of `loadlens.analysis` into a coordinator (the engine never imports them)."""

from __future__ import annotations

from loadlens.analysis.judge import GateJudge
from loadlens.engine.coordinator import Coordinator


def attach_judge(coordinator: Coordinator) -> GateJudge:
    """Give the coordinator a judge of every plan stage's gates (scenario thresholds included)."""
    scenario = coordinator.compiled.scenario
    indices = coordinator.plan_indices()
    gates = {
        index: scenario.stage_gates(stage)
        for index, stage in zip(indices, scenario.plan, strict=True)
    }
    names = {index: stage.name for index, stage in zip(indices, scenario.plan, strict=True)}
    judge = GateJudge(gates, names, scenario.generator)
    coordinator.judge = judge
    return judge
