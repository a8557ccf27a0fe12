"""Inline SVG bar charts for report.html (per-stage comparisons); the time charts are uPlot's.

How it works: a chart is a fixed-size SVG (its `viewBox` lets the browser scale it) with a
`<title>`, a y axis with "nice" ticks (1, 2 or 5 times a power of ten) and axis labels that
name their units. A bar's label is cut to its slot (the whole name in its `<title>`), so
neighbouring labels cannot run into each other. Data arrive in data units; `_Scale` maps them
to pixels. Every text is escaped, so an operation called `<script>` stays text.
Output is deterministic: numbers are written with fixed precision.
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
_GLYPH_PX = 7.0  # the widest average glyph of an 11 px system-ui font, in px
# Colour-blind-safe (Okabe–Ito), in the order lines are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000")


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
            f'<text class="bar-label" x="{centre:.1f}" y="{baseline + 16}" font-size="11" '
            f'text-anchor="middle"><title>{escape(label)}</title>'
            f"{escape(fit_label(label, slot))}</text>"
        )
    if not bars:
        parts.append(_no_data())
    return _svg(name, parts, attrs)


def fit_label(label: str, width_px: float) -> str:
    """The label cut with an ellipsis to fit `width_px` at 11 px (wide glyphs assumed)."""
    room = max(int((width_px - 6) / _GLYPH_PX), 1)
    return label if len(label) <= room else label[: max(room - 1, 1)] + "…"


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


def _no_data() -> str:
    middle_x = (_MARGIN_LEFT + WIDTH - _MARGIN_RIGHT) / 2
    return (
        f'<text x="{middle_x:.1f}" y="{HEIGHT / 2:.1f}" font-size="13" fill="#777" '
        f'text-anchor="middle">no data</text>'
    )
