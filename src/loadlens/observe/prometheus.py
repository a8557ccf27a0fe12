"""A Prometheus text endpoint: counters as per-second rates, gauges, histogram quantiles.

How it works: each sample parses the whole page with `prometheus_client`'s parser, keeps the
series of each requested family that match its label filter, and sums them. Counter totals and
histogram buckets are remembered from the previous sample, so a rate is the increase over the
interval and a histogram quantile describes the observations made during the interval (as
`histogram_quantile(rate(...))` would), interpolated linearly inside a bucket.
"""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from loadlens.model.observation import PrometheusMetric, quantile_name
from loadlens.observe.fetch import http_get
from loadlens.observe.source import SourceError

Buckets = list[tuple[float, float]]  # (upper bound, cumulative count), by bound


class PrometheusSource:
    """Reads one Prometheus endpoint."""

    def __init__(
        self,
        url: str,
        metrics: tuple[PrometheusMetric, ...],
        quantiles: tuple[float, ...],
        timeout: float,
    ) -> None:
        self.url = url
        self.metrics = metrics
        self.quantiles = quantiles
        self.timeout = timeout
        self.description = f"prometheus {url}"
        self.names: list[str] = [metric.name for metric in metrics]
        self._totals: dict[str, tuple[float, float]] = {}  # name → (t, counter total)
        self._buckets: dict[str, Buckets] = {}

    def read(self, now: float) -> dict[str, float]:
        """Every value of this sample; raises SourceError when none can be had."""
        text = http_get(self.url, self.timeout).decode("utf-8", "replace")
        try:
            families = {family.name: family for family in text_string_to_metric_families(text)}
        except ValueError as error:
            raise SourceError(f"{self.url} is not Prometheus text: {error}") from None
        values: dict[str, float] = {}
        missing: list[str] = []
        for metric in self.metrics:
            family = families.get(metric.metric) or families.get(
                metric.metric.removesuffix("_total")
            )
            if family is None:
                missing.append(f"no metric `{metric.metric}`")
                continue
            samples = [
                s for s in family.samples if all(s.labels.get(k) == v for k, v in metric.labels)
            ]
            if not samples:
                missing.append(f"no series of `{metric.metric}` with labels {dict(metric.labels)}")
                continue
            if family.type == "counter":
                self._counter(metric.name, samples, now, values)
            elif family.type == "histogram":
                self._histogram(metric.name, samples, values)
            elif family.type == "summary":
                self._summary(metric.name, samples, values)
            else:
                values[metric.name] = sum(s.value for s in samples if s.name == family.name)
        for name in values:
            if name not in self.names:
                self.names.append(name)
        if missing:
            raise SourceError(f"{self.url}: " + "; ".join(missing), partial=values)
        return values

    def _counter(
        self, name: str, samples: list[Sample], now: float, into: dict[str, float]
    ) -> None:
        total = sum(s.value for s in samples if s.name.endswith("_total"))
        into[name] = total
        previous = self._totals.get(name)
        self._totals[name] = (now, total)
        if previous is not None and now > previous[0] and total >= previous[1]:
            into[f"{name}_rate"] = (total - previous[1]) / (now - previous[0])

    def _histogram(self, name: str, samples: list[Sample], into: dict[str, float]) -> None:
        summed: dict[float, float] = {}
        for s in samples:
            if s.name.endswith("_bucket") and "le" in s.labels:
                bound = float(s.labels["le"])
                summed[bound] = summed.get(bound, 0.0) + s.value
        buckets = sorted(summed.items())
        previous = self._buckets.get(name)
        self._buckets[name] = buckets
        if previous is None or [b for b, _ in previous] != [b for b, _ in buckets]:
            return  # the first sample (or a changed layout) gives no interval to describe
        window = [
            (bound, count - before)
            for (bound, count), (_, before) in zip(buckets, previous, strict=True)
        ]
        for quantile in self.quantiles:
            value = bucket_quantile(quantile, window)
            if value is not None:
                into[quantile_name(name, quantile)] = value

    def _summary(self, name: str, samples: list[Sample], into: dict[str, float]) -> None:
        for quantile in self.quantiles:
            found = [
                s.value
                for s in samples
                if "quantile" in s.labels and math.isclose(float(s.labels["quantile"]), quantile)
            ]
            if found and not math.isnan(max(found)):
                into[quantile_name(name, quantile)] = max(found)


def bucket_quantile(quantile: float, buckets: Buckets) -> float | None:
    """The quantile of cumulative buckets, interpolated linearly; None without observations.

    A quantile falling in the `+Inf` bucket is reported as the largest finite bound.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = quantile * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            if bound <= 0:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower
