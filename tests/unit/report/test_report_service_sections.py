"""The written reports show what was observed of the service and whether its data held."""

from __future__ import annotations

from loadlens.model.integrity import Discrepancy, InvariantResult, ReconciliationResult
from loadlens.model.observation import MetricSeries, ObservationResult, SourceHealth
from loadlens.report.html import render_html
from loadlens.report.markdown import render_markdown
from tests.unit.report.report_samples import clean_result


def _with_service() -> object:
    result = clean_result()
    result.observation = ObservationResult(
        1.0,
        (MetricSeries("rss", ((0.0, 100_000_000.0), (1.0, 140_000_000.0))),),
        (SourceHealth("json http://127.0.0.1:9/metrics", 5, 5, "connection refused"),),
    )
    result.invariants = [
        InvariantResult("no overbooking", "sql", False, 2, ({"id": 7, "total_units": 50},)),
    ]
    result.reconciliation = ReconciliationResult(
        600, 10, 1, 12.0, 0, 0.0, (Discrepancy("3", "value", 100.0, 120.0, 10, 108.0),)
    )
    return result


def test_markdown_has_observations_invariants_and_reconciliation() -> None:
    text = render_markdown(_with_service())  # type: ignore[arg-type]
    assert "| rss | 2 | 100,000,000 | 140,000,000 | 100,000,000 | 140,000,000 |" in text
    assert "json http://127.0.0.1:9/metrics missed 5 of 5 samples: connection refused" in text
    assert "| no overbooking | end | 2 | VIOLATED |" in text
    assert "`no overbooking` violating row: id=7, total_units=50" in text
    assert "600 acknowledged writes over 10 entity fields: 1 lost (short by 12)" in text
    assert "3.value expected 220, found 108" in text


def test_html_has_the_same_sections_and_a_clean_run_says_none() -> None:
    html = render_html(_with_service())  # type: ignore[arg-type]
    assert "missed 5 of 5 samples" in html and "VIOLATED" in html
    clean = render_markdown(clean_result())
    assert clean.count("None recorded.") >= 2
