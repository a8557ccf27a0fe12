"""The charts of report.html, built from the result: load, throughput and failures, latency
per operation, service metrics, and the percentile spectrum (see `html_charts` for the form).

Every time chart shares one x axis, seconds since the run's first stage began, so their
cursors line up; a series has `None` where it has no value in a second.
"""

from __future__ import annotations

import math

import numpy as np

from loadlens.metrics.histogram import decode_histogram, recorded
from loadlens.metrics.result import RunResult, SeriesPoint
from loadlens.report.html_charts import (
    PALETTE,
    ChartSpec,
    Series,
    StageBand,
    stage_bands,
    stage_offsets,
)

# Percentile levels of the distribution chart: 0 %, then ever closer to 100 % on a log scale.
_SPECTRUM_STEPS_PER_DECADE = 10
_SPECTRUM_DECADES = 5  # down to 99.999 %, as far as the sample count reaches
_US_PER_MS = 1000.0
_TIME_AXIS = "time since start (s); drag to zoom, double-click to reset"


def time_charts(result: RunResult) -> dict[str, list[ChartSpec]]:
    """The time charts keyed by the report section they follow."""
    offsets = stage_offsets(result)
    bands = stage_bands(result, offsets)
    points = sorted(result.series, key=lambda p: offsets.get(p.stage, 0.0) + p.second)
    xs: list[float | None] = [offsets.get(p.stage, 0.0) + p.second + 1 for p in points]
    throughput = ChartSpec(
        name="throughput",
        title="Responses per second: succeeded and failed",
        x_label=_TIME_AXIS,
        y_label="requests per second",
        series=[Series("succeeded/s", PALETTE[2]), Series("failed/s", PALETTE[3])],
        data=[xs, [float(p.total.ok) for p in points], [float(p.total.errors) for p in points]],
        bands=bands,
    )
    latency = [
        _latency(name, points, xs, bands)
        for name in result.operations
        if any(name in p.ops and p.ops[name].samples for p in points)
    ]
    summary = [_load(result, points, xs, bands), throughput]
    return {"summary": summary, "operations": latency + _service(result, bands)}


def _load(
    result: RunResult, points: list[SeriesPoint], xs: list[float | None], bands: list[StageBand]
) -> ChartSpec:
    """Users (closed stages) or the planned arrival rate (open stages) beside the achieved rate."""
    info = {s.info.index: s.info for s in result.stages}
    users: list[float | None] = []
    planned: list[float | None] = []
    for p in points:
        load = info[p.stage].load if p.stage in info else {}
        open_model = load.get("model") == "open"
        users.append(None if open_model else float(p.health.users))
        rate = load.get("rate")
        planned.append(float(rate) if open_model and isinstance(rate, int | float) else None)
    achieved: list[float | None] = [float(p.total.count) for p in points]
    series = [Series("achieved requests/s", PALETTE[0])]
    data: list[list[float | None]] = [xs, achieved]
    if any(v is not None for v in planned):
        series.append(Series("planned arrivals/s", PALETTE[1], dashed=True))
        data.append(planned)
    if any(v is not None for v in users):
        series.append(Series("active users", PALETTE[4], scale="y2"))
        data.append(users)
    return ChartSpec(
        name="load",
        title="Load: users or arrival rate, and the rate achieved",
        x_label=_TIME_AXIS,
        y_label="requests per second",
        y2_label="virtual users" if any(s.scale == "y2" for s in series) else "",
        series=series,
        data=data,
        bands=bands,
    )


def _latency(
    name: str, points: list[SeriesPoint], xs: list[float | None], bands: list[StageBand]
) -> ChartSpec:
    data: list[list[float | None]] = [xs]
    for label in ("p50", "p95", "p99"):
        data.append(
            [
                getattr(p.ops[name], label) if name in p.ops and p.ops[name].samples else None
                for p in points
            ]
        )
    return ChartSpec(
        name="latency-over-time",
        title=f"Latency of {name}, second by second",
        x_label=_TIME_AXIS,
        y_label="latency (ms)",
        series=[
            Series("p50", PALETTE[0]),
            Series("p95", PALETTE[1]),
            Series("p99", PALETTE[3], dashed=True),
        ],
        data=data,
        bands=bands,
        operation=name,
    )


def _service(result: RunResult, bands: list[StageBand]) -> list[ChartSpec]:
    """One chart per observed service metric, on the same time axis as the latencies."""
    if result.observation is None:
        return []
    charts = []
    for metric in result.observation.metrics:
        if not metric.samples:
            continue
        # t counts from when observation began, which is when the first stage began
        xs: list[float | None] = [t for t, _ in metric.samples]
        ys: list[float | None] = [v for _, v in metric.samples]
        charts.append(
            ChartSpec(
                name="service-metric",
                title=f"Service: {metric.name}",
                x_label=_TIME_AXIS,
                y_label=metric.name,
                series=[Series(metric.name, PALETTE[5])],
                data=[xs, ys],
                bands=bands,
                operation=metric.name,
            )
        )
    return charts


def distribution_chart(result: RunResult) -> ChartSpec:
    """Each operation's percentile spectrum; x is log10(1 / (1 - q)), labelled as percentiles."""
    spectra = {name: percentile_spectrum(s.histogram) for name, s in result.operations.items()}
    spectra = {name: points for name, points in spectra.items() if points}
    levels = sorted({q for points in spectra.values() for q, _ in points})
    xs: list[float | None] = [spectrum_x(q) for q in levels]
    data = [xs]
    series = []
    for index, (name, points) in enumerate(spectra.items()):
        by_level = dict(points)
        data.append([by_level.get(q) for q in levels])
        series.append(Series(name, PALETTE[index % len(PALETTE)]))
    return ChartSpec(
        name="latency-distribution",
        title="Latency distribution per operation (percentile spectrum)",
        x_label="percentile (log scale towards 100 %)",
        y_label="latency (ms)",
        series=series,
        data=data,
        kind="spectrum",
    )


def spectrum_x(quantile: float) -> float:
    """The x position of a percentile level on the spectrum's log scale."""
    return math.log10(1.0 / (1.0 - quantile))


def percentile_spectrum(encoded: str) -> list[tuple[float, float]]:
    """(quantile, latency ms) at log-spaced levels, read from an encoded HDR histogram.

    Uses the same rule as the result's percentiles: the highest value equivalent to the one
    at rank max(1, round(q × count)). Levels beyond what the sample count can tell apart are
    left out.
    """
    h = decode_histogram(encoded)
    highest, counts = recorded(h)
    if not counts.size:
        return []
    values = highest.tolist()
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    steps = _SPECTRUM_STEPS_PER_DECADE * _SPECTRUM_DECADES
    levels = [1.0 - 10 ** (-k / _SPECTRUM_STEPS_PER_DECADE) for k in range(steps + 1)]
    levels = [q for q in levels if (1.0 - q) * total >= 1.0 or q == 0.0]
    points = []
    for q in levels:
        rank = max(int(q * total + 0.5), 1)
        index = int(np.searchsorted(cumulative, rank, side="left"))
        points.append((q, values[index] / _US_PER_MS))
    return points
