"""report.html: the report as one self-contained page (inline CSS, inline SVG charts).

The text and tables are `report.facts`, as in report.md; the charts are drawn here from the
result's 1-second series, stages and HDR histograms. The page loads nothing: no script, no
font, no stylesheet from elsewhere, so it opens the same offline, in CI artefacts, in mail.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

from loadlens.metrics.histogram import decode_histogram
from loadlens.metrics.result import RunResult
from loadlens.report.charts import Line, Marker, Tick, bar_chart, line_chart
from loadlens.report.facts import ReportFacts, Section, Table, report_facts, stage_rate

# Percentile levels of the distribution chart: 0 %, then ever closer to 100 % on a log scale.
_SPECTRUM_STEPS_PER_DECADE = 10
_SPECTRUM_DECADES = 5  # down to 99.999 %, as far as the sample count reaches
_US_PER_MS = 1000.0

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;
background:#fafafa;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 12px}h2{font-size:1.2rem;margin:32px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}
.banner{border-radius:8px;padding:14px 18px;color:#fff;margin-bottom:12px}
.banner strong{font-size:1.5rem;letter-spacing:.04em;margin-right:12px}
.banner.go{background:#1e7b34}.banner.no_go{background:#b3261e}
.banner.inconclusive{background:#b26a00}.banner.none{background:#5f6368}
table{border-collapse:collapse;margin:8px 0;background:#fff;font-size:.9rem}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fde7e6}tr.passed td{background:#e8f5e9}
tr.insufficient td,tr.not_available td,tr.uncertain td{background:#fff4e0}
code{background:#eee;padding:0 3px;border-radius:3px;font-size:.9em}
.banner code{background:rgba(255,255,255,.22);color:#fff}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.charts svg{background:#fff;flex:0 1 520px;width:520px;max-width:100%;height:auto;
border:1px solid #ddd;border-radius:6px}
.note{color:#555;font-size:.9rem}nav ul{columns:2;font-size:.9rem}
"""


def render_html(result: RunResult) -> str:
    """The whole page; the same result always gives the same bytes."""
    facts = report_facts(result)
    charts = _charts(result)
    body = [_banner(facts), _contents(facts)]
    for section in facts.sections:
        body.append(_section(section))
        for chart_html in charts.get(section.key, []):
            body.append(chart_html)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(facts.title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def inline(text: str) -> str:
    """Escaped running text, its backtick spans as `<code>`."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return escape(text)
    return "".join(
        f"<code>{escape(part)}</code>" if i % 2 else escape(part) for i, part in enumerate(parts)
    )


def _banner(facts: ReportFacts) -> str:
    kind = facts.verdict_kind.value if facts.verdict_kind is not None else "none"
    return (
        f"<h1>{escape(facts.title)}</h1>"
        f'<div class="banner {kind}" id="verdict" data-verdict="{escape(facts.verdict_label)}">'
        f"<strong>{escape(facts.verdict_label)}</strong>run {escape(facts.state)}"
        f"<div>{inline(facts.headline)}</div></div>"
    )


def _contents(facts: ReportFacts) -> str:
    items = "".join(
        f'<li><a href="#{escape(s.key)}">{escape(s.title)}</a></li>' for s in facts.sections
    )
    return f"<nav><ul>{items}</ul></nav>"


def _section(section: Section) -> str:
    parts = [f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>']
    parts += [f"<p>{inline(p)}</p>" for p in section.paragraphs]
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{inline(b)}</li>" for b in section.bullets) + "</ul>")
    if section.table is not None:
        parts.append(_table(section.table, section.key))
    parts += [f'<p class="note">{inline(n)}</p>' for n in section.notes]
    parts.append("</section>")
    return "".join(parts)


def _table(table: Table, key: str) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = []
    for index, row in enumerate(table.rows):
        css = table.row_classes[index] if index < len(table.row_classes) else ""
        cls = f' class="{escape(css)}"' if css else ""
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if numeric else f"<td>{inline(c)}</td>"
            for c, numeric in zip(row, table.numeric, strict=True)
        )
        rows.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<table data-table="{escape(key)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# -- charts ----------------------------------------------------------------------------------


def _charts(result: RunResult) -> dict[str, list[str]]:
    """Chart blocks keyed by the section they follow."""
    offsets = _stage_offsets(result)
    markers = [Marker(offsets[s.info.index], s.info.name) for s in result.stages if s.ran]
    over_time = [_latency_over_time(result, name, offsets, markers) for name in result.operations]
    return {
        "summary": [_block("throughput", [_throughput(result, offsets, markers)])],
        "operations": [
            _block("latency-over-time", over_time),
            _block("latency-distribution", [_distribution(result)]),
        ],
        "stages": [_block("stage-comparison", _stage_comparison(result))],
    }


def _block(name: str, charts: list[str]) -> str:
    return f'<div class="charts" data-charts="{escape(name)}">{"".join(charts)}</div>'


def _stage_offsets(result: RunResult) -> dict[int, float]:
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


def _latency_over_time(
    result: RunResult, name: str, offsets: dict[int, float], markers: list[Marker]
) -> str:
    lines = []
    for label in ("p50", "p95", "p99"):
        points = tuple(
            (offsets.get(p.stage, 0.0) + p.second + 1, getattr(p.ops[name], label))
            for p in result.series
            if name in p.ops and p.ops[name].samples
        )
        lines.append(Line(label, points, dashed=label == "p99"))
    return line_chart(
        name="latency-over-time",
        title=f"Latency of {name}, second by second",
        x_label="time since start (s)",
        y_label="latency (ms)",
        lines=lines,
        markers=markers,
        attrs={"data-operation": name},
    )


def _throughput(result: RunResult, offsets: dict[int, float], markers: list[Marker]) -> str:
    ok = tuple((offsets.get(p.stage, 0.0) + p.second + 1, float(p.total.ok)) for p in result.series)
    failed = tuple(
        (offsets.get(p.stage, 0.0) + p.second + 1, float(p.total.errors)) for p in result.series
    )
    return line_chart(
        name="throughput",
        title="Throughput and failures per second",
        x_label="time since start (s); dashed rules mark stage starts",
        y_label="requests per second",
        lines=[Line("succeeded/s", ok), Line("failed/s", failed)],
        markers=markers,
    )


def _distribution(result: RunResult) -> str:
    lines = []
    for name, stats in result.operations.items():
        points = percentile_spectrum(stats.histogram)
        if points:
            lines.append(Line(name, tuple((_spectrum_x(q), ms) for q, ms in points)))
    ticks = [
        Tick(_spectrum_x(q), label)
        for q, label in ((0.0, "0%"), (0.9, "90%"), (0.99, "99%"), (0.999, "99.9%"))
    ] + [Tick(_spectrum_x(0.9999), "99.99%"), Tick(_spectrum_x(0.99999), "99.999%")]
    top = max((x for line in lines for x, _ in line.points), default=_spectrum_x(0.99))
    return line_chart(
        name="latency-distribution",
        title="Latency distribution per operation (percentile spectrum)",
        x_label="percentile (log scale towards 100 %)",
        y_label="latency (ms)",
        lines=lines,
        x_ticks=[t for t in ticks if t.at <= max(top, _spectrum_x(0.99))],
    )


def _spectrum_x(quantile: float) -> float:
    return math.log10(1.0 / (1.0 - quantile))


def percentile_spectrum(encoded: str) -> list[tuple[float, float]]:
    """(quantile, latency ms) at log-spaced levels, read from an encoded HDR histogram.

    Uses the same rule as the result's percentiles: the highest value equivalent to the one
    at rank max(1, round(q × count)). Levels beyond what the sample count can tell apart are
    left out.
    """
    h = decode_histogram(encoded)
    values: list[int] = []
    counts: list[int] = []
    for item in h.get_recorded_iterator():
        values.append(int(h.get_highest_equivalent_value(item.value_iterated_to)))
        counts.append(int(item.count_at_value_iterated_to))
    if not counts:
        return []
    cumulative = np.cumsum(np.array(counts, dtype=np.int64))
    total = int(cumulative[-1])
    steps = _SPECTRUM_STEPS_PER_DECADE * _SPECTRUM_DECADES
    levels = [1.0 - 10 ** (-k / _SPECTRUM_STEPS_PER_DECADE) for k in range(steps + 1)]
    levels = [q for q in levels if (1.0 - q) * total >= 1.0 or q == 0.0]
    points = []
    for q in levels:
        rank = max(int(q * total + 0.5), 1)
        index = int(np.searchsorted(cumulative, rank, side="left"))
        points.append((q, values[index] / _US_PER_MS))
    return points


def _stage_comparison(result: RunResult) -> list[str]:
    ran = [s for s in result.stages if s.ran]
    return [
        bar_chart(
            name="stage-p95",
            title="p95 latency per stage",
            y_label="p95 latency (ms)",
            bars=[(s.info.name, s.total.latency.p95) for s in ran],
            value_format="{:,.2f}",
        ),
        bar_chart(
            name="stage-throughput",
            title="Throughput per stage",
            y_label="requests per second",
            bars=[(s.info.name, stage_rate(s)) for s in ran],
        ),
    ]
