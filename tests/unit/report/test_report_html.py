"""report.html: self-contained, escaped, with its charts; the same facts as report.md."""

from __future__ import annotations

import dataclasses
import json
import re

from report_samples import clean_result, failing_result, hostile_result

from loadlens.report.charts import fit_label, nice_ticks
from loadlens.report.html import percentile_spectrum, render_html

CHART = re.compile(r'<svg [^>]*data-chart="([^"]+)"')
FIGURE = re.compile(r'<figure class="chart" data-chart="([^"]+)" data-spec="(\d+)"')


def test_the_page_loads_nothing_from_elsewhere() -> None:
    page = render_html(failing_result())
    # The SVG namespace is a name, not a resource; nothing else may name a URL to fetch.
    without_namespace = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", without_namespace)
    assert not re.search(r"<script[^>]* src=", page)  # scripts are inline: uPlot and ours
    assert page.count("<script") == 3
    assert "<link" not in page
    assert "@import" not in page
    assert "url(" not in page


def _specs(page: str) -> list[dict[str, object]]:
    found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page)
    assert found
    specs: list[dict[str, object]] = json.loads(found.group(1))
    return specs


def test_charts_are_named_with_titles_axis_labels_and_data() -> None:
    page = render_html(failing_result())
    assert set(CHART.findall(page)) == {"stage-p95", "stage-throughput"}
    figures = FIGURE.findall(page)
    specs = _specs(page)
    assert [int(i) for _, i in figures] == list(range(len(specs)))
    names = [name for name, _ in figures]
    assert set(names) >= {"load", "throughput", "latency-over-time", "latency-distribution"}
    assert names.count("latency-over-time") == 3  # one per operation
    for spec in specs:
        assert spec["title"] and spec["x"] and spec["y"]
        data = spec["data"]
        assert isinstance(data, list) and len(data) == 1 + len(spec["series"])  # type: ignore[arg-type]
        assert all(len(column) == len(data[0]) for column in data)
    for svg in re.findall(r"<svg .*?</svg>", page):
        assert "<title>" in svg
        assert svg.count('class="axis-label"') == 2
    assert 'data-chart="outcomes-by-stage"' in page
    assert 'data-chart="phases"' in page or "phases" not in page


def test_axis_labels_name_their_units() -> None:
    specs = _specs(render_html(clean_result()))
    labels = {spec["y"] for spec in specs} | {spec["x"] for spec in specs}
    assert {"latency (ms)", "requests per second"} <= labels
    assert any(str(label).startswith("time since start (s)") for label in labels)


def test_stage_bands_span_each_stage_that_ran() -> None:
    specs = _specs(render_html(failing_result()))
    throughput = next(s for s in specs if s["name"] == "throughput")
    assert throughput["bands"] == [["smoke", 0, 3], ["load", 3, 7]]


def test_a_long_bar_label_is_cut_to_its_slot() -> None:
    assert fit_label("soak at 200 requests per second", 60.0) == "soak a…"
    assert fit_label("set", 60.0) == "set"


def test_a_script_end_tag_in_a_name_cannot_close_the_data_script() -> None:
    page = render_html(hostile_result())
    found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page)
    assert found and "</" not in found.group(1)


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


def test_the_vendored_chart_library_and_its_licence_ship_with_the_package() -> None:
    from importlib.resources import files

    from loadlens.report.html_charts import assets

    css, uplot, ours = assets()
    assert uplot.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert ".u-legend" in css and "window.loadlensCharts" in ours
    licence = (files("loadlens.report") / "vendor" / "uPlot.LICENSE").read_text("utf-8")
    assert "MIT License" in licence


def test_a_long_run_has_load_service_failures_and_phases() -> None:
    from tests.support.hour_result import OPERATIONS, STAGES, hour_result

    page = render_html(hour_result())
    specs = {(s["name"], s["operation"]): s for s in _specs(page)}
    load = specs[("load", "")]
    assert [s["label"] for s in load["series"]] == [  # type: ignore[union-attr]
        "achieved requests/s",
        "planned arrivals/s",
        "active users",
    ]
    service = specs[("service-metric", "db_pool_in_use")]
    assert len(service["data"][0]) == 3600  # type: ignore[index]
    assert [b[0] for b in specs[("throughput", "")]["bands"]] == [s[0] for s in STAGES]  # type: ignore[union-attr]
    failures = re.search(r'<table data-table="failures">.*?</table>', page)
    assert failures
    assert failures.group(0).count("<tr>") == 1 + len(STAGES) * len(OPERATIONS)
    assert "{&quot;error&quot;: &quot;UNIQUE constraint failed" in failures.group(0)
    assert "/users/0?token=***" in failures.group(0)
    assert page.count('class="bar-row"') == len(STAGES) + len(OPERATIONS)  # outcomes, phases


def test_without_failures_the_report_says_none_was_sampled() -> None:
    assert "No failed request was sampled." in render_html(clean_result())
