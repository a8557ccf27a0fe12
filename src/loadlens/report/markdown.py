"""report.md: the run's report as GitHub-flavoured Markdown, laid out from `report.facts`."""

from __future__ import annotations

import re

from loadlens.metrics.result import RunResult
from loadlens.report.facts import ReportFacts, Section, Table, report_facts

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def render_markdown(result: RunResult) -> str:
    """The whole report; the same result always gives the same text."""
    return render_facts_markdown(report_facts(result))


def render_facts_markdown(facts: ReportFacts) -> str:
    """Lay out already computed facts."""
    lines = [
        f"# {text(facts.title)}",
        "",
        f"**Verdict: {facts.verdict_label}** · run {facts.state}",
        "",
        text(facts.headline),
        "",
        "## Contents",
        "",
    ]
    lines += [f"- [{text(s.title)}](#{s.key})" for s in facts.sections]
    for section in facts.sections:
        lines += ["", *_section(section)]
    return "\n".join(lines) + "\n"


def _section(section: Section) -> list[str]:
    # An explicit anchor keeps links stable whatever a viewer does with headings.
    lines = [f'<a id="{section.key}"></a>', "", f"## {text(section.title)}"]
    for paragraph in section.paragraphs:
        lines += ["", text(paragraph)]
    if section.bullets:
        lines.append("")
        lines += [f"- {text(bullet)}" for bullet in section.bullets]
    if section.table is not None:
        lines += ["", *_table(section.table)]
    for note in section.notes:
        lines += ["", text(note)]
    return lines


def _table(table: Table) -> list[str]:
    header = "| " + " | ".join(cell(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|"
    rows = ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return [header, rule, *rows]


def text(value: str) -> str:
    """Running text: markup outside `code` spans is escaped, code spans are kept."""
    value = value.replace("\n", " ")
    parts = value.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        return _escape(value.replace("`", "'"))
    return "`".join(part if i % 2 else _escape(part) for i, part in enumerate(parts))


def cell(value: str) -> str:
    """A table cell: escaped text, no line breaks, no column separators."""
    return text(value).replace("|", "\\|")


def _escape(value: str) -> str:
    # Only what Markdown would read as markup: `<` that could open a tag (not `< 1%`),
    # emphasis, links, and `>` or `#` at the start (a quote or a heading).
    out = value.replace("\\", "\\\\")
    out = _TAG_START.sub("&lt;", out)
    for char in "*[]":
        out = out.replace(char, "\\" + char)
    if out.startswith((">", "#")):
        out = "\\" + out
    return out
