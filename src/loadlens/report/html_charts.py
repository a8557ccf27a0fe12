"""The interactive charts of report.html: chart specifications as data, drawn by uPlot.

How it works: each chart is a `ChartSpec` (title, axis labels, series with colours, and
column-oriented data: one x array, one y array per series, `None` where a series has no value
at that x). `render_specs` writes them as one JSON document into the page; `charts.js` (beside
this module) draws each with the vendored uPlot (drag to zoom, double-click to reset, hover
for values; the time charts share one cursor). Stage bands and the stage strip above each time
chart come from `StageBand`s. Numbers are rounded here, so the same result gives the same bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from loadlens.metrics.result import RunResult

# Colour-blind-safe (Okabe–Ito), in the order series are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8a7a00", "#000")
_DIGITS = 3  # ms with µs resolution; rates to a thousandth


@dataclass(frozen=True, slots=True)
class Series:
    """One drawn series: its legend label, colour, dash, and which y scale it uses."""

    label: str
    colour: str
    dashed: bool = False
    scale: str = "y"


@dataclass(frozen=True, slots=True)
class StageBand:
    """A stage's span on the time axis (seconds from the run's start)."""

    name: str
    start: float
    end: float


@dataclass(slots=True)
class ChartSpec:
    """Everything charts.js needs to draw one chart."""

    name: str  # data-chart, stable for tests and readers
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    data: list[list[float | None]]  # [xs, ys of series 0, ys of series 1, ...]
    kind: str = "time"  # "time": seconds with stage bands; "spectrum": percentile levels
    y2_label: str = ""  # the right axis, for series on scale "y2"
    bands: list[StageBand] = field(default_factory=list)
    operation: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (numbers rounded)."""
        return {
            "name": self.name,
            "title": self.title,
            "x": self.x_label,
            "y": self.y_label,
            "y2": self.y2_label,
            "kind": self.kind,
            "operation": self.operation,
            "series": [
                {"label": s.label, "stroke": s.colour, "dash": s.dashed, "scale": s.scale}
                for s in self.series
            ],
            "bands": [[b.name, _round(b.start), _round(b.end)] for b in self.bands],
            "data": [[_round(v) for v in column] for column in self.data],
        }


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = round(value, _DIGITS)
    return int(rounded) if rounded == int(rounded) else rounded


def render_specs(specs: list[ChartSpec]) -> str:
    """The specs as JSON safe inside a `<script>` element."""
    text = json.dumps([s.to_json() for s in specs], separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def assets() -> tuple[str, str, str]:
    """(uPlot's CSS, uPlot's script, our charts.js), read from the installed package."""
    here = files("loadlens.report")
    vendor = here / "vendor"
    return (
        (vendor / "uPlot.min.css").read_text(encoding="utf-8"),
        (vendor / "uPlot.iife.min.js").read_text(encoding="utf-8"),
        (here / "charts.js").read_text(encoding="utf-8"),
    )


# -- the time axis ---------------------------------------------------------------------------


def stage_offsets(result: RunResult) -> dict[int, float]:
    """Seconds from the run's start to each stage's start (planned durations when unknown)."""
    starts = [s.started_at for s in result.stages if s.started_at is not None]
    origin = min(starts) if starts else result.run.started_at
    offsets: dict[int, float] = {}
    elapsed = 0.0
    for stage in result.stages:
        if stage.started_at is not None:
            elapsed = stage.started_at - origin
        offsets[stage.info.index] = elapsed
        elapsed += stage.info.duration_s
    return offsets


def run_origin(result: RunResult) -> float:
    """The wall-clock time that is second 0 of the time charts."""
    starts = [s.started_at for s in result.stages if s.started_at is not None]
    return min(starts) if starts else result.run.started_at


def stage_bands(result: RunResult, offsets: dict[int, float]) -> list[StageBand]:
    """Each stage that ran, from its start to its end (or its planned end)."""
    origin = run_origin(result)
    bands = []
    for stage in result.stages:
        if not stage.ran:
            continue
        start = offsets[stage.info.index]
        if stage.ended_at is not None and stage.started_at is not None:
            end = stage.ended_at - origin
        else:
            end = start + stage.info.duration_s
        bands.append(StageBand(stage.info.name, start, max(end, start)))
    return bands
