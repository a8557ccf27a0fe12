"""report.html: the report as one self-contained page (inline CSS, inline scripts, data).

The text and tables are `report.facts`, as in report.md; the charts come from the result's
1-second series, stages, diagnostics and HDR histograms (`html_series`, `html_blocks`). The
time charts are drawn by uPlot, vendored in `report/vendor/` and inlined with its data, so
the page loads nothing from elsewhere: it opens the same offline, in CI artefacts, in mail.
"""

from __future__ import annotations

from html import escape

from loadlens.metrics.result import RunResult
from loadlens.report.charts import bar_chart
from loadlens.report.facts import ReportFacts, Section, Table, report_facts, stage_rate
from loadlens.report.html_blocks import failures_table, outcome_bars, phase_bars
from loadlens.report.html_charts import ChartSpec, assets, render_specs
from loadlens.report.html_series import distribution_chart, percentile_spectrum, time_charts

__all__ = ["inline", "percentile_spectrum", "render_html"]

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
.charts svg,.charts figure{background:#fff;flex:0 1 540px;width:540px;max-width:100%;
height:auto;border:1px solid #ddd;border-radius:6px;margin:0;padding:6px;box-sizing:border-box}
figcaption{font-weight:600;font-size:.9rem;margin:0 0 4px}
.stage-strip{position:relative;height:18px;font-size:11px;color:#444}
.stage-label{position:absolute;top:0;height:18px;line-height:18px;overflow:hidden;
white-space:nowrap;text-overflow:ellipsis;box-sizing:border-box;padding:0 0 0 3px;
border-left:1px solid #888}
.u-legend{font-size:12px}.u-legend .u-series{padding:1px 6px}
figure.stacked{background:#fff;border:1px solid #ddd;border-radius:6px;margin:12px 0;
padding:8px;max-width:820px}
.bar-row{display:flex;align-items:center;gap:8px;margin:3px 0}
.bar-label{flex:0 0 150px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;
font-size:.85rem}
.bar{flex:1;display:flex;height:16px;background:#f0f0f0}.seg{display:block;height:100%}
ul.legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px;
font-size:.85rem}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
pre.sample{white-space:pre-wrap;word-break:break-all;max-width:420px;margin:0;font-size:.8rem}
.note{color:#555;font-size:.9rem}nav ul{columns:2;font-size:.9rem}
"""


def render_html(result: RunResult) -> str:
    """The whole page; the same result always gives the same bytes."""
    facts = report_facts(result)
    charts, specs = _charts(result)
    body = [_banner(facts), _contents(facts)]
    for section in facts.sections:
        body.append(_section(section))
        for chart_html in charts.get(section.key, []):
            body.append(chart_html)
    uplot_css, uplot_js, charts_js = assets()
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(facts.title)}</title><style>{uplot_css}{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main>"
        f'<script id="chart-data" type="application/json">{render_specs(specs)}</script>'
        f"<script>{uplot_js}</script><script>{charts_js}</script></body></html>\n"
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


def _charts(result: RunResult) -> tuple[dict[str, list[str]], list[ChartSpec]]:
    """Chart blocks keyed by the section they follow, and the specs the script draws."""
    specs: list[ChartSpec] = []
    timed = time_charts(result)
    placed: dict[str, list[str]] = {}
    for key, group in timed.items():
        placed[key] = [_block(f"{key}-charts", [_figure(spec, specs) for spec in group])]
    placed["operations"].append(
        _block("latency-distribution", [_figure(distribution_chart(result), specs)])
    )
    placed["outcomes"] = [outcome_bars(result), phase_bars(result), failures_table(result)]
    placed["stages"] = [_block("stage-comparison", _stage_comparison(result))]
    return placed, specs


def _figure(spec: ChartSpec, specs: list[ChartSpec]) -> str:
    index = len(specs)
    specs.append(spec)
    operation = f' data-operation="{escape(spec.operation)}"' if spec.operation else ""
    strip = '<div class="stage-strip"></div>' if spec.bands else ""
    return (
        f'<figure class="chart" data-chart="{escape(spec.name)}" data-spec="{index}"{operation}>'
        f"<figcaption>{escape(spec.title)}</figcaption>{strip}"
        '<div class="plot"></div></figure>'
    )


def _block(name: str, charts: list[str]) -> str:
    return f'<div class="charts" data-charts="{escape(name)}">{"".join(charts)}</div>'


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
