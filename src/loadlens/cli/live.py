"""The live terminal view of a run (rich): stage, time, rates, percentiles, errors per operation."""

from __future__ import annotations

import time

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from loadlens.metrics.accumulate import LiveOp, RunAccumulator
from loadlens.metrics.result import StageInfo

_REFRESH_S = 0.5


class LiveView:
    """A RunListener that redraws a small dashboard at most twice a second."""

    def __init__(self, console: Console, stage_count: int) -> None:
        self.console = console
        self.stage_count = stage_count
        self._live: Live | None = None
        self._last = 0.0

    def stage_started(self, info: StageInfo) -> None:
        self._live = Live(
            Text(f"stage {info.name}: starting"), console=self.console, auto_refresh=False
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

    def _render(
        self, info: StageInfo, elapsed: float, accumulator: RunAccumulator
    ) -> RenderableType:
        live = accumulator.live_view(info.index)
        length = info.duration_s + info.ramp_s
        remaining = max(length - elapsed, 0.0)
        title = (
            f"stage {info.index + 1}/{self.stage_count} {info.name} · {elapsed:5.1f}s elapsed, "
            f"{remaining:5.1f}s left · in flight {live.health.in_flight}"
        )
        table = Table(title=title, title_justify="left")
        for name in ["operation", "req/s", "count", "p50 ms", "p95 ms", "p99 ms", "errors"]:
            table.add_column(name, justify="left" if name == "operation" else "right")
        for name, op in live.ops.items():
            table.add_row(name, *_cells(op))
        table.add_row("all", *_cells(live.total), style="bold")
        return Group(table)


def _cells(op: LiveOp) -> tuple[str, ...]:
    return (
        f"{op.rps:,.0f}",
        f"{op.count:,}",
        f"{op.p50:.2f}",
        f"{op.p95:.2f}",
        f"{op.p99:.2f}",
        f"{100 * op.error_rate:.2f} %",
    )
