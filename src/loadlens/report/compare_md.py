"""A comparison of two runs as Markdown (`compare.md`)."""

from __future__ import annotations

from loadlens.analysis.compare import TOTAL, Change, Comparison, MetricChange

COLUMNS = ("count", "rps", "error_rate", "p50", "p95", "p99")
HEADERS = {
    "count": "requests",
    "rps": "rps",
    "error_rate": "errors",
    "p50": "p50",
    "p95": "p95",
    "p99": "p99",
}


def format_value(metric: str, value: float) -> str:
    """A metric's value as reports write it."""
    if metric == "count":
        return f"{value:.0f}"
    if metric == "rps":
        return f"{value:.1f}/s"
    if metric == "error_rate":
        return f"{value * 100:.2f} %"
    return f"{value:.1f} ms"


def format_change(m: MetricChange) -> str:
    """`+12.0 ms (+38 %)`, or `+0.50 pp` for error rates."""
    if m.metric == "error_rate":
        return f"{m.delta * 100:+.2f} pp"
    delta = f"{m.delta:+.0f}" if m.metric == "count" else f"{m.delta:+.1f}"
    relative = m.relative
    return delta if relative is None else f"{delta} ({relative * 100:+.0f} %)"


def format_evidence(m: MetricChange) -> str:
    """The interval or p-value behind a judgement; "" for unjudged metrics."""
    if m.low is not None and m.high is not None:
        return f"Δ CI [{m.low:+.1f}, {m.high:+.1f}] ms"
    if m.pvalue is not None:
        return f"p = {m.pvalue:.2g}"
    return ""


def operation_label(name: str) -> str:
    """An operation's name, or "all operations" for the total."""
    return "all operations" if name == TOTAL else name


def findings(comparison: Comparison) -> list[str]:
    """One sentence per regression or improvement."""
    lines = []
    for op in comparison.operations:
        for m in op.metrics:
            if m.change in (Change.REGRESSION, Change.IMPROVEMENT):
                lines.append(
                    f"{m.change.value.upper()}: {HEADERS[m.metric]} of "
                    f"{operation_label(op.operation)} {format_value(m.metric, m.a)} → "
                    f"{format_value(m.metric, m.b)}, {format_change(m)}; {format_evidence(m)}"
                )
    return lines


def render_markdown(comparison: Comparison) -> str:
    """The comparison as a Markdown document."""
    c = comparison
    lines = [
        f"# Comparison: {c.b_id} against {c.a_id}",
        "",
        f"- baseline (A): `{c.a_id}` ({c.scenario_a})",
        f"- candidate (B): `{c.b_id}` ({c.scenario_b})",
        f"- a change is a regression or an improvement when it is significant at "
        f"{c.confidence * 100:.0f} % confidence and larger than {c.tolerance * 100:.0f} %",
        "",
        "## Findings",
        "",
    ]
    found = findings(c)
    lines.extend(f"- {line}" for line in found)
    if not found:
        lines.append("- no significant change beyond the tolerance")
    for op in c.operations:
        lines += ["", f"## {operation_label(op.operation)}", ""]
        if not (op.in_a and op.in_b):
            lines += [f"only in run {'A' if op.in_a else 'B'}", ""]
        lines += [
            "| metric | A | B | change | evidence | verdict |",
            "|---|---:|---:|---:|---|---|",
        ]
        for m in op.metrics:
            lines.append(
                f"| {HEADERS[m.metric]} | {format_value(m.metric, m.a)} | "
                f"{format_value(m.metric, m.b)} | {format_change(m)} | {format_evidence(m)} | "
                f"{m.change.value} |"
            )
    return "\n".join(lines) + "\n"
