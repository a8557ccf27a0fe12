"""A comparison of two runs as one self-contained HTML page (`compare.html`): no scripts,
fonts or images from anywhere else.

Beside the tables, paired bars (A grey, B coloured by its verdict) show p95 and throughput of
each operation against the largest value among them; drawn in CSS, so no label can overlap.
"""

from __future__ import annotations

from html import escape

from loadlens.analysis.compare import Change, Comparison
from loadlens.report.compare_md import (
    HEADERS,
    findings,
    format_change,
    format_evidence,
    format_value,
    operation_label,
)

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.regression { color: #b00020; font-weight: 600; }
.improvement { color: #1b7f3b; font-weight: 600; }
.unchanged, .insufficient { color: #555; }
code { background: #f4f4f4; padding: 0 0.2em; }
figure.pairs { margin: 0.5em 0 1.5em; max-width: 50em; }
.pair { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.pair-label { flex: 0 0 14em; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.pair-bars { flex: 1; } .pair-bars span { display: block; height: 9px; margin: 1px 0; }
.bar-a { background: #9e9e9e; } .bar-b { background: #0072B2; }
.bar-b.regression { background: #b00020; } .bar-b.improvement { background: #1b7f3b; }
.pair-value { flex: 0 0 12em; font-size: 12px; font-variant-numeric: tabular-nums; }
"""


def render_html(comparison: Comparison) -> str:
    """The comparison as an HTML document."""
    c = comparison
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>loadlens: {escape(c.b_id)} vs {escape(c.a_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Comparison: <code>{escape(c.b_id)}</code> against <code>{escape(c.a_id)}</code></h1>",
        "<ul>",
        f"<li>baseline (A): <code>{escape(c.a_id)}</code> ({escape(c.scenario_a)})</li>",
        f"<li>candidate (B): <code>{escape(c.b_id)}</code> ({escape(c.scenario_b)})</li>",
        f"<li>a change counts when significant at {c.confidence * 100:.0f} % confidence "
        f"and larger than {c.tolerance * 100:.0f} %</li>",
        "</ul><h2>Findings</h2><ul>",
    ]
    found = findings(c) or ["no significant change beyond the tolerance"]
    parts.extend(f"<li>{escape(line)}</li>" for line in found)
    parts.append("</ul>")
    for metric, title in (("p95", "p95 latency"), ("rps", "throughput")):
        parts.append(_pairs(c, metric, title))
    for op in c.operations:
        parts.append(f"<h2>{escape(operation_label(op.operation))}</h2>")
        if not (op.in_a and op.in_b):
            parts.append(f"<p>only in run {'A' if op.in_a else 'B'}</p>")
        parts.append(
            "<table><tr><th>metric</th><th>A</th><th>B</th><th>change</th>"
            "<th>evidence</th><th>verdict</th></tr>"
        )
        for m in op.metrics:
            css = m.change.value if m.change is not Change.NOT_JUDGED else ""
            parts.append(
                f"<tr><td>{escape(HEADERS[m.metric])}</td>"
                f'<td class="num">{escape(format_value(m.metric, m.a))}</td>'
                f'<td class="num">{escape(format_value(m.metric, m.b))}</td>'
                f'<td class="num">{escape(format_change(m))}</td>'
                f"<td>{escape(format_evidence(m))}</td>"
                f'<td class="{css}">{escape(m.change.value)}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _pairs(comparison: Comparison, metric: str, title: str) -> str:
    """Paired bars of one metric, A above B, for every operation in both runs."""
    rows = [
        (operation_label(op.operation), op.metric(metric))
        for op in comparison.operations
        if op.in_a and op.in_b
    ]
    peak = max((max(m.a, m.b) for _, m in rows), default=0.0)
    if peak <= 0:
        return ""
    lines = []
    for label, m in rows:
        css = m.change.value if m.change is not Change.NOT_JUDGED else ""
        lines.append(
            f'<div class="pair" data-operation="{escape(label)}">'
            f'<span class="pair-label" title="{escape(label)}">{escape(label)}</span>'
            f'<span class="pair-bars"><span class="bar-a" style="width:{100 * m.a / peak:.2f}%">'
            f'</span><span class="bar-b {css}" style="width:{100 * m.b / peak:.2f}%"></span>'
            f'</span><span class="pair-value">{escape(format_value(metric, m.a))} → '
            f"{escape(format_value(metric, m.b))}</span></div>"
        )
    return (
        f'<figure class="pairs" data-chart="compare-{metric}"><figcaption><strong>'
        f"{escape(title)}: A (grey) against B</strong></figcaption>{''.join(lines)}</figure>"
    )
