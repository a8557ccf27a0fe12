"""D4: refused requests — a per-client rate limit (policy) or load shedding at capacity.

How it works. Refusals are 429s and 503s that came with Retry-After (relabelled `shed:503` by
shedding.py before any finding runs; every other finding leaves them out). Per stage: the
refused share (Wilson interval), the *accepted* rate (requests that got any other response,
per second) and the accepted requests' median latency, estimated from the stage's histogram
by reading the refusals as its fastest responses (a refusal costs the service nothing).

Two causes give refusals, and their signatures differ:
- load shedding at capacity: 503 + Retry-After while the accepted rate stays at its peak as
  load rises past the onset (it grows less than FLAT_GROWTH) and the accepted requests' latency
  climbs (their median at the highest load over the median at the lowest, with an
  order-statistic interval whose lower bound is above MIN_CLIMB): the service refuses because
  it is full, so capacity, not a policy, bounds throughput (SERVICE_CAPACITY);
- a rate limit: refusals at a fixed accepted rate whatever the latency (POLICY).
Severity follows the refused share's interval: major when its lower bound is ≥ MAJOR_SHARE,
minor when ≥ MINOR_SHARE, info below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loadlens.analysis.bootstrap import Distribution
from loadlens.analysis.findings import common as c
from loadlens.analysis.findings.shedding import SHED_KEY
from loadlens.analysis.stats import wilson
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

ONSET_SHARE = 0.01  # refusals "start" at the first stage where this share is refused
MAJOR_SHARE = 0.10
MINOR_SHARE = 0.01
FLAT_GROWTH = 1.15  # accepted rate past the onset grows less than this: flat at its peak
MIN_LOAD_GROWTH = 1.5  # ... while load grew at least this much
MIN_CLIMB = 1.5  # lower bound of the accepted latency's rise for "latency climbs"
_Z95 = 1.959964
RATE_LIMITED = "status:429"


@dataclass(frozen=True, slots=True)
class _Stage:
    stage: StageResult
    load: float | None
    requests: int
    limited: int  # 429s
    shed: int  # 503 + Retry-After
    accepted_rate: float
    accepted_median: tuple[float, float, float]  # ms: estimate, 95 % low, high

    @property
    def refused(self) -> int:
        return self.limited + self.shed


def _accepted_median(stage: StageResult, refused: int) -> tuple[float, float, float]:
    d = Distribution.from_encoded(stage.total.histogram)
    n = d.total
    accepted = n - min(refused, n)
    if accepted <= 0:
        return 0.0, 0.0, 0.0
    cumulative = np.cumsum(d.counts)
    half = _Z95 * math.sqrt(accepted) / 2.0
    centre = n - accepted + accepted / 2.0
    ranks = [centre, max(centre - half, 1.0), min(centre + half, float(n))]
    at = np.searchsorted(cumulative, np.ceil(ranks), side="left")
    estimate, low, high = (float(d.values[min(int(i), d.values.size - 1)]) for i in at)
    return estimate, low, high


def _row(stage: StageResult) -> _Stage:
    outcomes = stage.total.outcomes
    limited = outcomes.get(RATE_LIMITED, 0)
    shed = outcomes.get(SHED_KEY, 0)
    accepted = sum(n for k, n in outcomes.items() if c.is_completed(k) and k != RATE_LIMITED)
    span = (stage.ended_at or 0.0) - (stage.started_at or 0.0)
    return _Stage(
        stage=stage,
        load=c.stage_load(stage),
        requests=stage.total.count,
        limited=limited,
        shed=shed,
        accepted_rate=accepted / span if span > 0 else 0.0,
        accepted_median=_accepted_median(stage, limited + shed),
    )


def find(result: RunResult) -> list[Finding]:
    """At most one finding: how much was refused, from which stage, and why."""
    rows = [_row(s) for s in c.ran_stages(result)]
    refused = sum(r.refused for r in rows)
    if not refused:
        return []
    requests = sum(r.requests for r in rows)
    share = c.ratio(refused, requests)
    low, high = wilson(refused, requests)
    onset = next((r for r in rows if c.ratio(r.refused, r.requests) >= ONSET_SHARE), None)
    shed = sum(r.shed for r in rows)
    limited = sum(r.limited for r in rows)
    by_stage = ", ".join(
        f"{c.pct(c.ratio(r.refused, r.requests))} @ {c.describe_stage_load(r.stage)} "
        f"(accepted {r.accepted_rate:,.1f} req/s, median {r.accepted_median[0]:,.1f} ms)"
        for r in rows
    )
    evidence = [
        Evidence(
            "share",
            f"{refused:,} of {requests:,} requests ({c.pct(share)} [95% CI {c.pct(low)}, "
            f"{c.pct(high)}]) were refused: {limited:,} × HTTP 429, {shed:,} × HTTP 503 with "
            "Retry-After",
            share,
        ),
        Evidence("by_stage", f"by stage: {by_stage}"),
    ]
    retry_after = sum(
        d.headers.get("retry-after", 0) for r in rows for d in r.stage.diagnostics.values()
    )
    evidence.append(
        Evidence(
            "retry_after",
            f"Retry-After present on {c.pct(min(1.0, c.ratio(retry_after, refused)))} of them",
            min(1.0, c.ratio(retry_after, refused)),
        )
    )
    capacity = _at_capacity(rows, onset) if shed >= limited else None
    if capacity is not None:
        evidence.extend(capacity)
    severity = (
        Severity.MAJOR
        if low >= MAJOR_SHARE
        else Severity.MINOR
        if low >= MINOR_SHARE
        else Severity.INFO
    )
    where = f" from stage `{onset.stage.info.name}`" if onset is not None else ""
    examples = tuple(
        x
        for r in rows
        for op in r.stage.operations
        for x in c.examples([r.stage], op, lambda k: k in (RATE_LIMITED, SHED_KEY), 1)
    )[:3]
    if capacity is not None:
        peak = max(r.accepted_rate for r in rows)
        return [
            Finding(
                kind=FindingClass.LOAD_SHEDDING,
                attribution=Attribution.SERVICE_CAPACITY,
                severity=severity,
                confidence=c.UNCALIBRATED,
                headline=(
                    f"CAPACITY (load shedding) — {c.pct(share)} of requests got HTTP 503 + "
                    f"Retry-After{where} while accepted throughput stayed at ≈{peak:,.0f} req/s "
                    "and latency climbed"
                ),
                evidence=tuple(evidence),
                counter_evidence=(
                    Evidence(
                        "not_a_rate_limit",
                        "not a per-client rate limit: the refusals came as the service filled "
                        "(accepted rate flat at its peak, latency of accepted requests rising), "
                        "not at a fixed rate whatever the latency",
                    ),
                ),
                examples=examples,
                advice=(
                    f"the service sheds load at ≈{peak:,.0f} req/s because it is full: that is "
                    "its capacity here; find the saturated resource (workers, pool, CPU) to "
                    "raise it, and keep the shedding (it protects latency)"
                ),
                stage=onset.stage.info.name if onset is not None else None,
            )
        ]
    return [
        Finding(
            kind=FindingClass.RATE_LIMIT,
            attribution=Attribution.POLICY,
            severity=severity,
            confidence=c.UNCALIBRATED,
            headline=(
                f"POLICY (rate limiting) — {c.pct(share)} of requests got HTTP 429"
                f"{' or 503 + Retry-After' if shed else ''}{where}"
            ),
            evidence=tuple(evidence),
            counter_evidence=(
                Evidence("excluded", "excluded from the failures every other finding explains"),
            ),
            examples=examples,
            advice=(
                "the limiter, not the service's capacity, bounds throughput above this load: "
                "re-run with the limit lifted or with more client keys to measure capacity"
            ),
            stage=onset.stage.info.name if onset is not None else None,
        )
    ]


def _at_capacity(rows: list[_Stage], onset: _Stage | None) -> list[Evidence] | None:
    """The evidence that refusals came at capacity, or None when the data does not show it."""
    measured = [r for r in rows if r.load is not None and r.accepted_median[0] > 0]
    if onset is None or len(measured) < 2:
        return None
    lowest, last = measured[0], measured[-1]
    top = max(measured, key=lambda r: r.accepted_rate)
    if lowest is last or lowest.load is None or last.load is None or top.load is None:
        return None
    # flat at its peak: the last stage accepts about what the best stage did, and load rose
    # past that stage without the accepted rate following (or the peak is the last stage)
    flat = last.accepted_rate * FLAT_GROWTH >= top.accepted_rate and (
        top is last or last.load / top.load >= MIN_LOAD_GROWTH
    )
    climb_low = last.accepted_median[1] / max(lowest.accepted_median[2], 1e-9)
    climb = last.accepted_median[0] / max(lowest.accepted_median[0], 1e-9)
    if not flat or climb_low < MIN_CLIMB:
        return None
    rose = f", while load rose ×{last.load / top.load:.2f} past it" if top is not last else ""
    return [
        Evidence(
            "accepted_flat",
            f"accepted rate at `{last.stage.info.name}` {last.accepted_rate:,.1f} req/s against "
            f"a peak of {top.accepted_rate:,.1f} req/s at `{top.stage.info.name}`{rose}",
            last.accepted_rate,
        ),
        Evidence(
            "latency_climb",
            f"accepted requests' median latency ×{climb:,.1f} [95% CI ≥ ×{climb_low:,.1f}] from "
            f"`{lowest.stage.info.name}` ({lowest.accepted_median[0]:,.1f} ms) to "
            f"`{last.stage.info.name}` ({last.accepted_median[0]:,.1f} ms), reading the refusals "
            "as the fastest responses",
            climb,
        ),
    ]
