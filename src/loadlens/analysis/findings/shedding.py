"""503 + Retry-After is not a failure: relabel it once, so every finding leaves it out.

docs/diagnosis.md says so for every finding: a 503 that says when to come back is the service
protecting itself (load shedding) or a policy, judged by the overload finding (ratelimit.py)
and by no other. The header is recorded per stage × operation as the request feature
`h:retry-after`, counted per outcome; where every 503 of a stage × operation carried it, the
copy of the result the findings read has those 503s under SHED_KEY. A stage × operation where
only some 503s carried it keeps them as failures (the two cannot be told apart per request).
The result itself is not changed: result.json keeps the outcomes as recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from loadlens.metrics.diagnostics import FeatureCounts, OpDiagnostics
from loadlens.metrics.result import OpStats, RunResult, StageResult

SERVICE_UNAVAILABLE = "status:503"
SHED_KEY = "shed:503"  # a 503 that came with Retry-After
RETRY_AFTER_FEATURE = "h:retry-after"


def shed_count(diagnostics: OpDiagnostics | None, stats: OpStats) -> int:
    """How many 503s of a stage × operation came with Retry-After (all of them or none)."""
    n503 = stats.outcomes.get(SERVICE_UNAVAILABLE, 0)
    if not n503 or diagnostics is None:
        return 0
    with_header = diagnostics.features.counts.get(RETRY_AFTER_FEATURE, {})
    return n503 if with_header.get(SERVICE_UNAVAILABLE, 0) >= n503 else 0


def relabelled(result: RunResult) -> RunResult:
    """A copy of `result` with each shed 503 under SHED_KEY; `result` itself when none was."""
    shed = {
        (s.info.index, op)
        for s in result.stages
        for op, stats in s.operations.items()
        if shed_count(s.diagnostics.get(op), stats)
    }
    if not shed:
        return result
    stages = [_stage(s, {op for index, op in shed if index == s.info.index}) for s in result.stages]
    operations = {
        op: _stats(stats, _shed_total(stages, op)) for op, stats in result.operations.items()
    }
    total = _stats(result.total, sum(_shed_total(stages, op) for op in result.operations))
    return dataclasses.replace(result, stages=stages, operations=operations, total=total)


def _shed_total(stages: list[StageResult], op: str) -> int:
    return sum(s.operations[op].outcomes.get(SHED_KEY, 0) for s in stages if op in s.operations)


def _stats(stats: OpStats, shed: int) -> OpStats:
    if not shed:
        return stats
    outcomes = dict(stats.outcomes)
    outcomes[SERVICE_UNAVAILABLE] = outcomes.get(SERVICE_UNAVAILABLE, 0) - shed
    if outcomes[SERVICE_UNAVAILABLE] <= 0:
        del outcomes[SERVICE_UNAVAILABLE]
    outcomes[SHED_KEY] = outcomes.get(SHED_KEY, 0) + shed
    return dataclasses.replace(stats, outcomes=dict(sorted(outcomes.items())))


def _stage(stage: StageResult, ops: set[str]) -> StageResult:
    if not ops:
        return stage
    operations = {
        op: _stats(stats, stats.outcomes.get(SERVICE_UNAVAILABLE, 0)) if op in ops else stats
        for op, stats in stage.operations.items()
    }
    diagnostics = {op: _diagnostics(d) if op in ops else d for op, d in stage.diagnostics.items()}
    total = _stats(
        stage.total, sum(stage.operations[op].outcomes.get(SERVICE_UNAVAILABLE, 0) for op in ops)
    )
    return dataclasses.replace(stage, operations=operations, diagnostics=diagnostics, total=total)


def _rename(key: str) -> str:
    return SHED_KEY if key == SERVICE_UNAVAILABLE else key


def _diagnostics(d: OpDiagnostics) -> OpDiagnostics:
    counts = {feature: _merged_keys(by, _rename) for feature, by in d.features.counts.items()}
    return dataclasses.replace(
        d,
        features=FeatureCounts(counts, d.features.dropped_features),
        templates=[dataclasses.replace(t, outcome=_rename(t.outcome)) for t in d.templates],
        samples=[dataclasses.replace(s, outcome=_rename(s.outcome)) for s in d.samples],
    )


def _merged_keys(by: dict[str, int], rename: Callable[[str], str]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for key, n in by.items():
        merged[rename(key)] = merged.get(rename(key), 0) + n
    return merged
