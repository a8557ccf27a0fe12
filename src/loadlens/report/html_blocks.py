"""Static blocks of report.html drawn in HTML and CSS, without script: outcomes per stage and
timing phases per operation as stacked bars, and the failures table with sample requests.

A stacked bar is a row of segments whose widths are shares; its legend is a wrapping list, so
no label can sit on another. Samples are shown as the result holds them: already redacted
when recorded (secrets masked, bodies cut to 300 characters).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from loadlens.metrics.result import RunResult
from loadlens.model.outcome import is_success_key
from loadlens.report.facts import fmt_count, fmt_ms
from loadlens.report.html_charts import PALETTE
from loadlens.report.outcomes import describe_outcome

_FAILURE_COLOURS = ("#D55E00", "#CC79A7", "#E69F00", "#8a7a00", "#56B4E9", "#000")
_SUCCESS_COLOURS = ("#009E73", "#7fcdbb", "#1b6e3b", "#b8e186")  # greens: told apart
_PHASES = (
    ("connect", "connect_us"),
    ("send", "send_us"),
    ("wait", "wait_us"),
    ("receive", "receive_us"),
)
_MAX_FAILURE_ROWS = 60  # samples are capped per stage × operation × outcome; so is the table


def outcome_bars(result: RunResult) -> str:
    """Each stage's outcomes (success and every failure kind) as one stacked bar."""
    keys: list[str] = []
    for stage in result.stages:
        for key in stage.total.outcomes:
            if key not in keys:
                keys.append(key)
    keys.sort(key=lambda k: (not is_success_key(k), k))
    colours = _colours(keys)
    rows = []
    for stage in result.stages:
        if not stage.ran or not stage.total.count:
            continue
        parts = [(k, float(stage.total.outcomes.get(k, 0))) for k in keys]
        rows.append(_bar(stage.info.name, parts, stage.total.count, colours, _count))
    title = "Outcomes per stage (share of requests)"
    return _chart("outcomes-by-stage", title, rows, colours, describe_outcome)


def phase_bars(result: RunResult) -> str:
    """Each operation's mean time per phase (connect, send, wait, receive) over the run."""
    sums: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for stage in result.stages:
        for name, diagnostics in stage.diagnostics.items():
            phases = diagnostics.phases
            into = sums.setdefault(name, dict.fromkeys([p for p, _ in _PHASES], 0.0))
            for label, attribute in _PHASES:
                into[label] += getattr(phases, attribute)
            counts[name] = counts.get(name, 0) + phases.responses
    colours = {label: PALETTE[i] for i, (label, _) in enumerate(_PHASES)}
    rows = []
    for name, by_phase in sums.items():
        n = counts[name]
        if not n:
            continue
        means = [(label, by_phase[label] / n / 1000.0) for label, _ in _PHASES]
        total = sum(ms for _, ms in means)
        if total > 0:
            rows.append(_bar(name, means, total, colours, lambda ms: f"{fmt_ms(ms)} ms"))
    return _chart("phases", "Where the time went: mean ms per phase of a response", rows, colours)


def failures_table(result: RunResult) -> str:
    """Sample failed requests per stage and operation: request, status, latency, response."""
    rows = []
    for stage in result.stages:
        for name, diagnostics in stage.diagnostics.items():
            for sample in diagnostics.samples:
                if is_success_key(sample.outcome):
                    continue
                variables = ", ".join(f"{k}={v}" for k, v in sorted(sample.variables.items()))
                rows.append(
                    "<tr>"
                    f"<td>{escape(stage.info.name)}</td><td>{escape(name)}</td>"
                    f"<td>{escape(sample.outcome)}</td>"
                    f"<td><code>{escape(sample.method)} {escape(sample.target)}</code></td>"
                    f'<td class="num">{"" if sample.status is None else sample.status}</td>'
                    f'<td class="num">'
                    f"{'' if sample.latency_ms is None else escape(fmt_ms(sample.latency_ms))}</td>"
                    f'<td><pre class="sample">{escape(sample.response)}</pre></td>'
                    f"<td>{escape(variables)}</td></tr>"
                )
    if not rows:
        return '<p class="note" data-table="failures">No failed request was sampled.</p>'
    shown = rows[:_MAX_FAILURE_ROWS]
    note = (
        f'<p class="note">{len(shown)} of {len(rows)} samples shown.</p>'
        if len(rows) > len(shown)
        else ""
    )
    head = "".join(
        f"<th>{c}</th>"
        for c in ("stage", "operation", "outcome", "request", "status", "ms", "response", "vars")
    )
    return (
        '<h3>Failed requests (samples, redacted)</h3><table data-table="failures">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(shown)}</tbody></table>{note}"
    )


def _count(n: float) -> str:
    return fmt_count(int(n))


def _colours(keys: list[str]) -> dict[str, str]:
    colours = {}
    successes = failures = 0
    for key in keys:
        if is_success_key(key):
            colours[key] = _SUCCESS_COLOURS[successes % len(_SUCCESS_COLOURS)]
            successes += 1
        else:
            colours[key] = _FAILURE_COLOURS[failures % len(_FAILURE_COLOURS)]
            failures += 1
    return colours


def _bar(
    label: str,
    parts: list[tuple[str, float]],
    total: float,
    colours: dict[str, str],
    fmt: Callable[[float], str],
) -> str:
    segments = []
    for key, value in parts:
        if value <= 0:
            continue
        share = 100.0 * value / total
        text = fmt(value)
        segments.append(
            f'<span class="seg" style="width:{share:.3f}%;background:{colours[key]}" '
            f'title="{escape(describe_outcome(key))}: '
            f'{escape(text)} ({share:.1f} %)"></span>'
        )
    return (
        f'<div class="bar-row"><span class="bar-label" title="{escape(label)}">{escape(label)}'
        f'</span><span class="bar" data-bar="{escape(label)}">{"".join(segments)}</span></div>'
    )


def _chart(
    name: str,
    title: str,
    rows: list[str],
    colours: dict[str, str],
    names: Callable[[str], str] = str,
) -> str:
    if not rows:
        return ""
    legend = "".join(
        f'<li class="legend-entry"><span class="swatch" style="background:{c}"></span>'
        f"{escape(names(k))}</li>"
        for k, c in colours.items()
    )
    return (
        f'<figure class="stacked" data-chart="{escape(name)}"><figcaption>{escape(title)}'
        f'</figcaption>{"".join(rows)}<ul class="legend">{legend}</ul></figure>'
    )
