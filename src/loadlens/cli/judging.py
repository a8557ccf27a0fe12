"""Wires the gates of `loadlens.analysis` into a coordinator (the engine never imports them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from loadlens.analysis.judge import GateJudge
from loadlens.engine.coordinator import Coordinator
from loadlens.metrics.result import RunResult
from loadlens.model.generator import GeneratorLimits
from loadlens.model.threshold import Threshold


class _WaitingJudge(GateJudge):
    """A judge that first calls `ready` when it concludes (the CLI's preloading of the
    wrap-up's imports, which must be over before this thread imports any of them)."""

    def __init__(
        self,
        gates: Mapping[int, Sequence[Threshold]],
        names: Mapping[int, str],
        limits: GeneratorLimits | None,
        ready: Callable[[], None],
    ) -> None:
        super().__init__(gates, names, limits)
        self._ready = ready

    def conclude(self, result: RunResult, stages_not_run: list[str]) -> None:
        self._ready()
        super().conclude(result, stages_not_run)


def attach_judge(coordinator: Coordinator, ready: Callable[[], None] | None = None) -> GateJudge:
    """Give the coordinator a judge of every plan stage's gates (scenario thresholds included);
    `ready`, if given, is called before the judge concludes."""
    scenario = coordinator.compiled.scenario
    indices = coordinator.plan_indices()
    gates = {
        index: scenario.stage_gates(stage)
        for index, stage in zip(indices, scenario.plan, strict=True)
    }
    names = {index: stage.name for index, stage in zip(indices, scenario.plan, strict=True)}
    judge = (
        GateJudge(gates, names, scenario.generator)
        if ready is None
        else _WaitingJudge(gates, names, scenario.generator, ready)
    )
    coordinator.judge = judge
    return judge
