"""A comparison of two runs as one self-contained HTML page (`compare.html`): no scripts,
fonts or images from anywhere else."""

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
