"""report.html: self-contained, escaped, with its charts; the same facts as report.md."""

from __future__ import annotations

import dataclasses
import re

from report_samples import HOSTILE, clean_result, failing_result, hostile_result

from loadlens.report.charts import nice_ticks
from loadlens.report.html import percentile_spectrum, render_html

CHART = re.compile(r'<svg [^>]*data-chart="([^"]+)"')


def test_the_page_loads_nothing_from_elsewhere() -> None:
    page = render_html(failing_result())
    # The SVG namespace is a name, not a resource; nothing else may name a URL to fetch.
    without_namespace = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", without_namespace)
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert "url(" not in page


def test_hostile_strings_are_escaped() -> None:
    page = render_html(hostile_result())
    assert HOSTILE not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;stage&lt;/i&gt;" in page
    assert "<b>bold</b>" not in page


def test_charts_are_inline_svg_with_names_titles_and_axis_labels() -> None:
    page = render_html(failing_result())
    names = CHART.findall(page)
    assert len(names) >= 4
    assert set(names) >= {
        "throughput",
        "latency-over-time",
        "latency-distribution",
        "stage-p95",
        "stage-throughput",
    }
    assert names.count("latency-over-time") == 3  # one per operation
    for svg in re.findall(r"<svg .*?</svg>", page):
        assert "<title>" in svg
        assert svg.count('class="axis-label"') == 2


def test_axis_labels_name_their_units() -> None:
    page = render_html(clean_result())
    for label in ("latency (ms)", "time since start (s)", "requests per second"):
        assert f">{label}</text>" in page


def test_the_verdict_banner_is_coloured_by_kind() -> None:
    assert '<div class="banner no_go" id="verdict" data-verdict="NO-GO">' in render_html(
        failing_result()
    )
    assert 'class="banner go"' in render_html(clean_result())
    unjudged = dataclasses.replace(clean_result(), verdict=None, gates=[])
    page = render_html(unjudged)
    assert 'class="banner none"' in page
    assert "NO VERDICT" in page
    assert "No gates were defined or judged." in page


def test_gate_rows_carry_their_status() -> None:
    page = render_html(failing_result())
    assert page.count('<tr class="failed">') == 2
    assert page.count('<tr class="insufficient">') == 1
    assert page.count('<tr class="not_available">') == 1


def test_the_page_is_deterministic() -> None:
    assert render_html(failing_result()) == render_html(failing_result())


def test_the_percentile_spectrum_agrees_with_the_result_percentiles() -> None:
    stats = failing_result().operations["create"]
    points = dict(percentile_spectrum(stats.histogram))
    assert points[0.0] >= stats.latency.min
    assert points[0.9] == stats.latency.p90
    assert max(points.values()) <= stats.latency.max
    # 84 samples cannot tell 99.9 % from 99 %: such levels are left out
    assert max(points) < 0.99


def test_an_empty_histogram_has_no_spectrum() -> None:
    assert percentile_spectrum("") == []


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 120.06) == [0, 50, 100, 150]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
