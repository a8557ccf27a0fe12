"""Findings: why requests failed or got slow, each with its evidence (docs/diagnosis.md).

`diagnose(result)` runs every diagnosis on a RunResult and returns its findings, most severe
and most confident first. Each diagnosis lives in its own module and needs only the result;
a result without diagnostics (older runs) or without failures simply yields fewer findings.
"""

from __future__ import annotations

from collections.abc import Callable

from loadlens.analysis.findings import (
    attribute,
    chain,
    contention,
    drift,
    integrity,
    measurement,
    race,
    ratelimit,
    saturation,
    slow_input,
    tail,
    unreachable,
)
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Finding

DIAGNOSES: tuple[Callable[[RunResult], list[Finding]], ...] = (
    integrity.find,
    unreachable.find,
    measurement.find,
    chain.find,
    attribute.find,
    race.find,
    contention.find,
    ratelimit.find,
    saturation.find,
    drift.find,
    slow_input.find,
    tail.find,
)


def diagnose(result: RunResult) -> list[Finding]:
    """Every finding on `result`, sorted by severity, then confidence (highest first)."""
    findings: list[Finding] = []
    for run in DIAGNOSES:
        findings.extend(run(result))
    return sorted(_deduplicated(findings), key=lambda f: f.sort_key)


def _deduplicated(findings: list[Finding]) -> list[Finding]:
    # A shape mismatch or a broken capture explains an operation's failures better than a
    # bare attribute association on the same operation: keep the more specific one.
    chained = {f.operation for f in findings if f.kind.value == "broken_chain"}
    return [
        f for f in findings if not (f.kind.value == "request_attribute" and f.operation in chained)
    ]


__all__ = ["diagnose"]
