"""Inline SVG charts for report.html: line charts and bar charts, nothing else.

How it works: a chart is a fixed-size SVG (its `viewBox` lets the browser scale it) with a
`<title>`, two axes with "nice" ticks (1, 2 or 5 times a power of ten), axis labels that name
their units, and a legend. Data arrive in data units; `_Scale` maps them to pixels. Every text
is escaped, so an operation called `<script>` stays text. Output is deterministic: numbers
are written with fixed precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 540
HEIGHT = 290
_MARGIN_LEFT = 64
_MARGIN_RIGHT = 16
_MARGIN_TOP = 34
_MARGIN_BOTTOM = 64
# Colour-blind-safe (Okabe–Ito), in the order lines are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a line chart: its legend label and (x, y) points in data units."""

    label: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical rule at `x` with a label (a stage boundary)."""

    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick at a data position with its label."""

    at: float
    label: str


@dataclass(frozen=True, slots=True)
class _Scale:
    lo: float
    hi: float
    px_lo: float
    px_hi: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        fraction = (value - self.lo) / span if span else 0.0
        return self.px_lo + fraction * (self.px_hi - self.px_lo)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [math.floor(lo / step) * step]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above the highest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def tick_label(value: float) -> str:
    """`0`, `2.5`, `1,200`: no trailing zeros, thousands separated."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def line_chart(
    *,
    name: str,
    title: str,
    x_label: str,
    y_label: str,
    lines: Sequence[Line],
    markers: Sequence[Marker] = (),
    x_ticks: Sequence[Tick] | None = None,
    attrs: dict[str, str] | None = None,
) -> str:
    """An SVG line chart; `x_ticks` overrides the automatic ticks (e.g. percentile levels)."""
    xs = [x for line in lines for x, _ in line.points] + [m.x for m in markers]
    ys = [y for line in lines for _, y in line.points]
    if x_ticks:
        xs += [t.at for t in x_ticks]
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y_values = nice_ticks(0.0, max(ys) if ys and max(ys) > 0 else 1.0)
    xt = list(x_ticks) if x_ticks else [Tick(v, tick_label(v)) for v in nice_ticks(x_lo, x_hi)]
    if not x_ticks:
        x_lo, x_hi = min(x_lo, xt[0].at), max(x_hi, xt[-1].at)
    x = _Scale(x_lo, x_hi, _MARGIN_LEFT, WIDTH - _MARGIN_RIGHT)
    y = _Scale(y_values[0], y_values[-1], HEIGHT - _MARGIN_BOTTOM, _MARGIN_TOP)
    parts = _frame(title, x_label, y_label)
    parts += _y_axis(y, y_values)
    parts += _x_axis(x, [t for t in xt if x_lo <= t.at <= x_hi])
    for marker in markers:
        px = x(marker.x)
        parts.append(
            f'<line class="marker" x1="{px:.1f}" y1="{_MARGIN_TOP}" x2="{px:.1f}" '
            f'y2="{HEIGHT - _MARGIN_BOTTOM}" stroke="#888" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{px + 3:.1f}" y="{_MARGIN_TOP + 10}" font-size="10" '
            f'fill="#555">{escape(marker.label)}</text>'
        )
    for index, line in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        dash = ' stroke-dasharray="6 3"' if line.dashed else ""
        points = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in line.points)
        if len(line.points) == 1:
            cx, cy = line.points[0]
            parts.append(f'<circle cx="{x(cx):.1f}" cy="{y(cy):.1f}" r="3" fill="{colour}"/>')
        elif points:
            parts.append(
                f'<polyline data-series="{escape(line.label)}" fill="none" stroke="{colour}" '
                f'stroke-width="1.6"{dash} points="{points}"/>'
            )
    if not ys:
        parts.append(_no_data())
    parts += _legend([line.label for line in lines])
    return _svg(name, parts, attrs)


def bar_chart(
    *,
    name: str,
    title: str,
    y_label: str,
    bars: Sequence[tuple[str, float]],
    value_format: str = "{:,.1f}",
    attrs: dict[str, str] | None = None,
) -> str:
    """An SVG bar chart: one labelled bar per (label, value), its value written above it."""
    peak = max((v for _, v in bars), default=0.0)
    y_values = nice_ticks(0.0, peak if peak > 0 else 1.0)
    y = _Scale(y_values[0], y_values[-1], HEIGHT - _MARGIN_BOTTOM, _MARGIN_TOP)
    parts = _frame(title, "stage", y_label)
    parts += _y_axis(y, y_values)
    plot = WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    slot = plot / max(len(bars), 1)
    width = min(slot * 0.6, 90.0)
    baseline = HEIGHT - _MARGIN_BOTTOM
    parts.append(
        f'<line x1="{_MARGIN_LEFT}" y1="{baseline}" x2="{WIDTH - _MARGIN_RIGHT}" '
        f'y2="{baseline}" stroke="#333"/>'
    )
    for index, (label, value) in enumerate(bars):
        left = _MARGIN_LEFT + slot * index + (slot - width) / 2
        top = y(value)
        centre = left + width / 2
        parts.append(
            f'<rect data-label="{escape(label)}" x="{left:.1f}" y="{top:.1f}" '
            f'width="{width:.1f}" height="{baseline - top:.1f}" fill="{PALETTE[0]}"/>'
        )
        parts.append(
            f'<text x="{centre:.1f}" y="{top - 4:.1f}" font-size="11" text-anchor="middle">'
            f"{escape(value_format.format(value))}</text>"
        )
        parts.append(
            f'<text x="{centre:.1f}" y="{baseline + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    if not bars:
        parts.append(_no_data())
    return _svg(name, parts, attrs)


def _svg(name: str, parts: list[str], attrs: dict[str, str] | None) -> str:
    extra = "".join(f' {key}="{escape(value)}"' for key, value in sorted((attrs or {}).items()))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{escape(name)}"{extra} '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'font-family="system-ui, sans-serif">' + "".join(parts) + "</svg>"
    )


def _frame(title: str, x_label: str, y_label: str) -> list[str]:
    middle_x = (_MARGIN_LEFT + WIDTH - _MARGIN_RIGHT) / 2
    middle_y = (_MARGIN_TOP + HEIGHT - _MARGIN_BOTTOM) / 2
    return [
        f"<title>{escape(title)}</title>",
        f'<text x="{_MARGIN_LEFT}" y="18" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<text class="axis-label" x="{middle_x:.1f}" y="{HEIGHT - 30}" font-size="11" '
        f'text-anchor="middle">{escape(x_label)}</text>',
        f'<text class="axis-label" x="14" y="{middle_y:.1f}" font-size="11" '
        f'text-anchor="middle" transform="rotate(-90 14 {middle_y:.1f})">'
        f"{escape(y_label)}</text>",
    ]


def _y_axis(y: _Scale, values: list[float]) -> list[str]:
    parts = [
        f'<line x1="{_MARGIN_LEFT}" y1="{_MARGIN_TOP}" x2="{_MARGIN_LEFT}" '
        f'y2="{HEIGHT - _MARGIN_BOTTOM}" stroke="#333"/>'
    ]
    for value in values:
        py = y(value)
        parts.append(
            f'<line x1="{_MARGIN_LEFT}" y1="{py:.1f}" x2="{WIDTH - _MARGIN_RIGHT}" '
            f'y2="{py:.1f}" stroke="#e4e4e4"/>'
        )
        parts.append(
            f'<text x="{_MARGIN_LEFT - 6}" y="{py + 4:.1f}" font-size="10" '
            f'text-anchor="end">{escape(tick_label(value))}</text>'
        )
    return parts


def _x_axis(x: _Scale, ticks: list[Tick]) -> list[str]:
    baseline = HEIGHT - _MARGIN_BOTTOM
    parts = [
        f'<line x1="{_MARGIN_LEFT}" y1="{baseline}" x2="{WIDTH - _MARGIN_RIGHT}" '
        f'y2="{baseline}" stroke="#333"/>'
    ]
    for tick in ticks:
        px = x(tick.at)
        parts.append(
            f'<line x1="{px:.1f}" y1="{baseline}" x2="{px:.1f}" y2="{baseline + 4}" stroke="#333"/>'
        )
        parts.append(
            f'<text x="{px:.1f}" y="{baseline + 16}" font-size="10" '
            f'text-anchor="middle">{escape(tick.label)}</text>'
        )
    return parts


def _legend(labels: list[str]) -> list[str]:
    parts = []
    left = float(_MARGIN_LEFT)
    for index, label in enumerate(labels):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{left:.1f}" y="{HEIGHT - 16}" width="12" height="4" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{left + 16:.1f}" y="{HEIGHT - 11}" font-size="11">{escape(label)}</text>'
        )
        left += 28 + 7 * len(label)
    return parts


def _no_data() -> str:
    middle_x = (_MARGIN_LEFT + WIDTH - _MARGIN_RIGHT) / 2
    return (
        f'<text x="{middle_x:.1f}" y="{HEIGHT / 2:.1f}" font-size="13" fill="#777" '
        f'text-anchor="middle">no data</text>'
    )
