"""The live terminal view of a run (rich): stage, load, time, rates, percentiles, errors per
operation, and each gate's state so far.

Stages are counted as the plan counts them: setup and teardown (listed as stages by the
engine) are shown by name, without a number, so a plan of two stages reads `stage 1/2` and
`stage 2/2` whether or not it has a setup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from loadlens.metrics.accumulate import LiveOp, RunAccumulator
from loadlens.metrics.result import StageInfo
from loadlens.model.verdict import GateResult, GateStatus

_REFRESH_S = 0.5
_PHASES = ("setup", "teardown")  # the engine's names for setup and teardown "stages"
_GATE_STATE = {
    GateStatus.PASSED: ("passing", "green"),
    GateStatus.FAILED: ("FAILING", "bold red"),
    GateStatus.UNCERTAIN: ("uncertain (generator bound)", "yellow"),
    GateStatus.INSUFFICIENT: ("too few samples yet", "dim"),
    GateStatus.NOT_AVAILABLE: ("not measured", "dim"),
}

LiveGates = Callable[[int], Sequence[GateResult]]  # stage index -> its gates judged so far


class LiveView:
    """A RunListener that redraws a small dashboard at most twice a second."""

    def __init__(self, console: Console, stage_count: int, gates: LiveGates | None = None) -> None:
        """`stage_count`: the plan's stages (setup and teardown not counted); `gates`: each
        stage's gates judged on what has arrived so far (the judge's `live`)."""
        self.console = console
        self.stage_count = stage_count
        self.gates = gates
        self._live: Live | None = None
        self._last = 0.0
        self._position: dict[int, int] = {}  # stage index -> its 1-based place in the plan

    def stage_started(self, info: StageInfo) -> None:
        if info.load.get("model") not in _PHASES:
            self._position[info.index] = len(self._position) + 1
        self._live = Live(
            Text(f"{self._label(info)}: starting"), console=self.console, auto_refresh=False
        )
        self._live.start()

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        now = time.monotonic()
        if self._live is None or now - self._last < _REFRESH_S:
            return
        self._last = now
        self._live.update(self._render(info, elapsed, accumulator), refresh=True)

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        if self._live is not None:
            length = info.duration_s + info.ramp_s
            self._live.update(self._render(info, length, accumulator), refresh=True)
            self._live.stop()
            self._live = None
            if not self.console.is_terminal:
                # Outside a terminal rich prints the last frame at stop without ending its
                # line (it ends it only in a terminal): the next output would be glued on.
                self.console.line()

    def _label(self, info: StageInfo) -> str:
        position = self._position.get(info.index)
        if position is None:
            return info.name  # setup or teardown
        return f"stage {position}/{self.stage_count} {info.name}"

    def _render(
        self, info: StageInfo, elapsed: float, accumulator: RunAccumulator
    ) -> RenderableType:
        live = accumulator.live_view(info.index)
        length = info.duration_s + info.ramp_s
        parts = [self._label(info)]
        if info.load.get("model") not in _PHASES:  # setup and teardown: one user, no load
            parts.append(_load(info, live.health.users))
        if length > 0:
            parts.append(f"{min(elapsed, length):5.1f}s / {length:.1f}s")
        else:
            parts.append(f"{elapsed:5.1f}s")
        parts.append(f"in flight {live.health.in_flight}")
        table = Table(title=" · ".join(parts), title_justify="left")
        for name in ["operation", "req/s", "count", "p50 ms", "p95 ms", "p99 ms", "errors"]:
            table.add_column(name, justify="left" if name == "operation" else "right")
        for name, op in live.ops.items():
            table.add_row(name, *_cells(op))
        table.add_row("all", *_cells(live.total), style="bold")
        gates = list(self.gates(info.index)) if self.gates is not None else []
        if not gates:
            return Group(table)
        return Group(table, _gate_lines(gates))


def _load(info: StageInfo, active_users: int) -> str:
    load = info.load
    if load.get("model") == "open":
        return f"rate {float(load.get('rate', 0.0)):g}/s"
    return f"users {active_users}/{int(load.get('users', 0))}"


def _gate_lines(gates: Sequence[GateResult]) -> Text:
    text = Text("gates so far", style="bold")
    for gate in gates:
        state, style = _GATE_STATE[gate.status]
        measured = f" (measured {gate.measured_text})" if gate.measured_text else ""
        default = " (default)" if gate.default else ""
        text.append(f"\n  {gate.gate}{default}: ")
        text.append(state, style=style)
        text.append(measured)
    return text


def _cells(op: LiveOp) -> tuple[str, ...]:
    return (
        f"{op.rps:,.0f}",
        f"{op.count:,}",
        f"{op.p50:.2f}",
        f"{op.p95:.2f}",
        f"{op.p99:.2f}",
        f"{100 * op.error_rate:.2f} %",
    )
