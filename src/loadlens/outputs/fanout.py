"""One RunListener made of several: the coordinator takes one, a run may have many outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.result import StageInfo


class Listener(Protocol):
    """The coordinator's RunListener, as every output implements it."""

    def stage_started(self, info: StageInfo) -> None: ...

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None: ...

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None: ...


class FanOut:
    """Passes each event to every listener, in the order given."""

    def __init__(self, listeners: Sequence[Listener]) -> None:
        self.listeners = tuple(listeners)

    def stage_started(self, info: StageInfo) -> None:
        for listener in self.listeners:
            listener.stage_started(info)

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        for listener in self.listeners:
            listener.tick(info, elapsed, accumulator)

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        for listener in self.listeners:
            listener.stage_finished(info, accumulator)
