"""The live judge of a run's gates: what the coordinator asks every poll and at stage ends.

`GateJudge` has the methods of `loadlens.engine.coordinator.StageJudge` (without importing
the engine). How it works: every frame goes to a WindowTracker. `breach` is asked every poll;
once per newly settled second it judges each stage's windowed gates on the window ending
there (keeping the first failed window, else the last judged one) and its abort gates, and
returns a reason when an abort gate failed after its grace: a percentile gate as soon as a
confidence bound says so (analysis/early_abort.py), any other when it is FAILED. `stage_passed`
judges the whole-stage gates on the accumulator's stage totals, against the generator's error
bound the tracker kept, and the windowed gates on every second not yet judged; `conclude` puts
the gate results and the verdict on the RunResult.

A plan without any gate gets DEFAULT_GATES on every stage (docs/thresholds.md, "Default
gates"), marked as defaults in their results, so that a run of failures is never GO.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from loadlens.analysis import early_abort
from loadlens.analysis.gates import describe_result, evaluate_stage, judge
from loadlens.analysis.verdict import decide
from loadlens.analysis.windows import WindowTracker
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.result import RunResult
from loadlens.model.generator import GeneratorLimits
from loadlens.model.threshold import Threshold, parse_threshold
from loadlens.model.verdict import GateResult, GateStatus

# The gates of a plan that defines none: 5 % errors is far above what a healthy service shows
# and far below a broken one, so a smoke run stays GO and a run of failures is NO-GO.
DEFAULT_GATES = (parse_threshold("error_rate < 5%"),)


class GateJudge:
    """Judges each stage's gates live and at its end; collects results for the verdict."""

    def __init__(
        self,
        gates: Mapping[int, Sequence[Threshold]],
        names: Mapping[int, str],
        limits: GeneratorLimits | None = None,
    ) -> None:
        """`gates`: stage index -> its gates (scenario thresholds included); `names`: names;
        `limits`: the scenario's `generator:` block. With no gate at all, DEFAULT_GATES."""
        self.defaulted = bool(gates) and not any(gates.values())
        if self.defaulted:
            gates = {index: DEFAULT_GATES for index in gates}
        self.gates = {index: tuple(g) for index, g in gates.items()}
        self.names = dict(names)
        self.results: list[GateResult] = []
        self.observed: dict[int, dict[str, Sequence[float]]] = {}  # stage -> metric -> samples
        every = [g for stage_gates in self.gates.values() for g in stage_gates]
        self.limits = limits or GeneratorLimits()
        self.tracker = WindowTracker.for_gates(every, self.limits)
        self._judged: dict[int, int] = {}  # stage -> newest second judged
        self._windows: dict[tuple[int, int], GateResult] = {}  # (stage, gate index) -> kept

    def observe_service(self, stage: int, values: Mapping[str, Sequence[float]]) -> None:
        """The service metrics observed during a stage, for its gates on them."""
        self.observed[stage] = dict(values)

    def observe(self, frame: Frame, histograms: Mapping[str, Any]) -> None:
        """Take a worker's frame and its histograms (decoded once, by the accumulator)."""
        self.tracker.add_frame(frame, histograms)

    def breach(self, stage: int, elapsed_s: float) -> str | None:
        """Why the stage must stop now (an abort gate failed), or None."""
        settled = self.tracker.settled_second(stage)
        if settled < 0 or settled <= self._judged.get(stage, -1):
            return None
        reason = None
        for second in range(self._judged.get(stage, -1) + 1, settled + 1):
            reason = self._judge_second(stage, second, elapsed_s) or reason
        self._judged[stage] = settled
        return reason

    def _judge_second(self, stage: int, second: int, elapsed_s: float) -> str | None:
        name = self.names.get(stage, str(stage))
        reason = None
        for position, gate in enumerate(self.gates.get(stage, ())):
            if gate.window_s is None and not gate.abort:
                continue
            m = self.tracker.measurement(gate, stage, second)
            window = gate.window_s
            at_second = None if window is None else second
            result = judge(gate, m, stage=name, window_s=window, at_second=at_second)
            if window is not None:
                self._keep_window(stage, position, result)
            if early_abort.decided(gate):
                breached = early_abort.surely_fails(gate, m)
            else:
                breached = result.status is GateStatus.FAILED
            if gate.abort and breached and elapsed_s >= gate.abort_after_s:
                reason = reason or describe_result(result)
        return reason

    def _keep_window(self, stage: int, position: int, result: GateResult) -> None:
        kept = self._windows.get((stage, position))
        if kept is not None and kept.status is GateStatus.FAILED:
            return  # the first failed window is the one reported
        if kept is not None and result.status is GateStatus.INSUFFICIENT:
            return  # a judged window outranks a later thin one (e.g. the stage's tail)
        self._windows[(stage, position)] = result

    def stage_passed(self, stage: int, accumulator: RunAccumulator) -> bool:
        """Judge the stage's gates now that it ended; whether none FAILED."""
        name = self.names.get(stage, str(stage))
        newest = self.tracker.newest_second(stage)
        for second in range(self._judged.get(stage, -1) + 1, newest + 1):
            self._judge_second(stage, second, elapsed_s=0.0)
        self._judged[stage] = newest
        operations = accumulator.stage_ops(stage)
        health = Health(late=self.tracker_late(stage), dropped=self.tracker_dropped(stage))
        passed = True
        observed = self.observed.pop(stage, {})
        for position, gate in enumerate(self.gates.get(stage, ())):
            if gate.window_s is None:
                bounded = self.tracker.stage_bound(gate, stage)
                result = evaluate_stage(
                    gate,
                    operations,
                    float(newest + 1),
                    health,
                    stage=name,
                    observed=observed,
                    bounded=bounded,
                )
            else:
                result = self._windows.get((stage, position)) or self.tracker.evaluate(
                    gate, stage, newest, stage_name=name
                )
            if self.defaulted:
                result = dataclasses.replace(result, default=True)
            self.results.append(result)
            passed = passed and result.status is not GateStatus.FAILED
        self.tracker.forget(stage)
        return passed

    def live(self, stage: int) -> list[GateResult]:
        """Each of a stage's gates judged on what has arrived so far (for a live view): a
        windowed gate on its newest window, any other on the stage so far."""
        name = self.names.get(stage, str(stage))
        newest = self.tracker.newest_second(stage)
        if newest < 0:
            return []
        results = []
        for gate in self.gates.get(stage, ()):
            result = self.tracker.evaluate(gate, stage, newest, stage_name=name)
            results.append(dataclasses.replace(result, default=self.defaulted))
        return results

    def tracker_late(self, stage: int) -> int:
        """Late iterations of a stage so far."""
        return self.tracker.stage_totals(stage)[0]

    def tracker_dropped(self, stage: int) -> int:
        """Dropped iterations of a stage so far."""
        return self.tracker.stage_totals(stage)[1]

    def conclude(self, result: RunResult, stages_not_run: list[str]) -> None:
        """Put the gate results, the findings and the verdict on the result."""
        from loadlens.analysis.findings import diagnose

        result.gates = list(self.results)
        result.findings = diagnose(result)
        result.verdict = decide(
            result, self.results, stages_not_run=stages_not_run, limits=self.limits
        )
