"""capacity.html: a capacity search as one self-contained page, beside capacity.json.

The answer first (capacity, confirmation, why the search stopped), then two charts drawn by the
same vendored uPlot as report.html (`html_charts`): throughput and p95 per probed rate, and,
when the Universal Scalability Law was fitted, measured throughput against concurrency with
the fitted curve; then every probe as a table.
"""

from __future__ import annotations

from html import escape

from loadlens.analysis.capacity import CapacityOutcome
from loadlens.report.html_charts import PALETTE, ChartSpec, Series, assets, render_specs

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;
border-bottom:1px solid #ddd;text-align:left}td.num{text-align:right;
font-variant-numeric:tabular-nums}.held{color:#1b7f3b}.broke{color:#b00020;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{background:#fff;flex:0 1 540px;
width:540px;max-width:100%;border:1px solid #ddd;border-radius:6px;margin:0;padding:6px;
box-sizing:border-box}figcaption{font-weight:600;font-size:.9rem}
.u-legend{font-size:12px}
"""
_CURVE_POINTS = 60


def render_capacity_html(outcome: CapacityOutcome, slo: list[str], scenario: str) -> str:
    """The search as an HTML document; the same outcome gives the same bytes."""
    specs = [_rate_chart(outcome)]
    usl_chart = _usl_chart(outcome)
    if usl_chart is not None:
        specs.append(usl_chart)
    figures = "".join(
        f'<figure class="chart" data-chart="{escape(s.name)}" data-spec="{i}">'
        f'<figcaption>{escape(s.title)}</figcaption><div class="plot"></div></figure>'
        for i, s in enumerate(specs)
    )
    uplot_css, uplot_js, charts_js = assets()
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>loadlens capacity: {escape(scenario)}</title>"
        f"<style>{uplot_css}{_CSS}</style></head><body>"
        f"<h1>Capacity of {escape(scenario)}</h1>{_answer(outcome, slo)}"
        f'<div class="charts">{figures}</div><h2>Probes</h2>{_probes(outcome)}'
        f'<script id="chart-data" type="application/json">{render_specs(specs)}</script>'
        f"<script>{uplot_js}</script><script>{charts_js}</script></body></html>\n"
    )


def _answer(outcome: CapacityOutcome, slo: list[str]) -> str:
    if outcome.capacity is None:
        found = "capacity: not found"
    else:
        confirmed = {True: "confirmed", False: "confirmation failed", None: "not confirmed"}
        found = f"capacity: {outcome.capacity:,.1f} req/s ({confirmed[outcome.confirmed]})"
    items = [
        f'<li id="capacity"><strong>{escape(found)}</strong></li>',
        f"<li>SLO: {escape(', '.join(slo))}</li>",
        f"<li>last pass {_num(outcome.last_pass)}/s, first failure "
        f"{_num(outcome.first_fail)}/s</li>",
        f"<li>stopped: {escape(str(outcome.stopped_because))}</li>",
    ]
    usl = outcome.usl
    if usl is not None:
        items.append(
            f"<li>USL fit over {usl.points} probes: σ = {usl.sigma:.4f}, κ = {usl.kappa:.6f}, "
            f"λ = {usl.lambda_:,.1f}/s per unit of concurrency, R² = {usl.r_squared:.3f}</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _rate_chart(outcome: CapacityOutcome) -> ChartSpec:
    rows = sorted(outcome.table(), key=lambda r: r.rate)
    return ChartSpec(
        name="capacity-probes",
        title="Each probe: achieved throughput and p95 against the offered rate",
        x_label="offered arrival rate (req/s)",
        y_label="throughput (req/s)",
        y2_label="p95 latency (ms)",
        series=[
            Series("throughput /s", PALETTE[0]),
            Series("p95 ms", PALETTE[3], scale="y2"),
        ],
        data=[[r.rate for r in rows], [r.throughput for r in rows], [r.p95_ms for r in rows]],
        kind="points",
    )


def _usl_chart(outcome: CapacityOutcome) -> ChartSpec | None:
    usl = outcome.usl
    measured = sorted(
        (p.measured["concurrency"], p.measured["throughput"])
        for p in outcome.probes
        if "concurrency" in p.measured and "throughput" in p.measured
    )
    if usl is None or not measured:
        return None
    top = measured[-1][0] * 1.5 or 1.0
    curve = [top * i / _CURVE_POINTS for i in range(1, _CURVE_POINTS + 1)]
    xs = sorted({n for n, _ in measured} | set(curve))
    by_n = dict(measured)
    columns: list[list[float | None]] = [list(xs), [by_n.get(n) for n in xs]]
    columns.append([usl.predict(n) for n in xs])
    return ChartSpec(
        name="capacity-usl",
        title="Throughput against concurrency, with the fitted USL curve",
        x_label="concurrency (Little's law: throughput × mean latency)",
        y_label="throughput (req/s)",
        series=[Series("measured", PALETTE[0]), Series("USL fit", PALETTE[1], dashed=True)],
        data=columns,
        kind="points",
    )


def _probes(outcome: CapacityOutcome) -> str:
    head = "".join(
        f"<th>{c}</th>"
        for c in ("rate /s", "kind", "SLO", "p95 ms", "errors", "throughput /s", "reason")
    )
    rows = []
    for r in outcome.table():
        state = "held" if r.passed else "broke"
        errors = None if r.error_rate is None else 100 * r.error_rate
        rows.append(
            f'<tr><td class="num">{r.rate:,.1f}</td><td>{escape(r.kind)}</td>'
            f'<td class="{state}">{state}</td><td class="num">{_num(r.p95_ms)}</td>'
            f'<td class="num">{_num(errors, "%")}</td><td class="num">{_num(r.throughput)}</td>'
            f"<td>{escape(r.reason)}</td></tr>"
        )
    return (
        f'<table data-table="probes"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _num(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.1f}{unit}"
