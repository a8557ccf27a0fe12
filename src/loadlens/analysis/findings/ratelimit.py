"""D4: rate limiting — 429 (and 503 with Retry-After) is policy, not failure.

Every other finding leaves these responses out of its failure counts (common.is_failure); this
one reports them: the share, the stage where they start (the first stage ≥ ONSET_SHARE), the
accepted rate while they occur, and how often Retry-After came with them.
"""

from __future__ import annotations

from loadlens.analysis.findings import common as c
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

ONSET_SHARE = 0.01  # the limiter "starts" at the first stage where this share is limited
MAJOR_SHARE = 0.10
MINOR_SHARE = 0.01


def _limited(stage: StageResult) -> tuple[int, int]:
    """(limited responses, Retry-After headers seen) in a stage, over every operation."""
    limited = retry_after = 0
    for op, stats in stage.operations.items():
        diagnostics = stage.diagnostics.get(op)
        headers = diagnostics.headers.get("retry-after", 0) if diagnostics else 0
        n503 = stats.outcomes.get("status:503", 0)
        limited += stats.outcomes.get("status:429", 0)
        if n503 and headers >= n503:  # 503s that said when to come back are a policy too
            limited += n503
        retry_after += headers
    return limited, retry_after


def find(result: RunResult) -> list[Finding]:
    """At most one finding: how much rate limiting the run met and from which stage."""
    stages = c.ran_stages(result)
    per_stage = [(s, *_limited(s)) for s in stages]
    limited = sum(n for _, n, _ in per_stage)
    if not limited:
        return []
    requests = sum(s.total.count for s in stages)
    share = c.ratio(limited, requests)
    onset = next((s for s, n, _ in per_stage if c.ratio(n, s.total.count) >= ONSET_SHARE), None)
    by_stage = ", ".join(
        f"{c.pct(c.ratio(n, s.total.count))} @ {c.describe_stage_load(s)}" for s, n, _ in per_stage
    )
    retry_after = sum(r for _, _, r in per_stage)
    evidence = [
        Evidence(
            "share",
            f"{limited:,} of {requests:,} requests ({c.pct(share)}) were rate limited",
            share,
        ),
        Evidence("by_stage", f"limited share by stage: {by_stage}"),
        Evidence(
            "retry_after",
            f"Retry-After present on {c.pct(min(1.0, c.ratio(retry_after, limited)))} of them",
            min(1.0, c.ratio(retry_after, limited)),
        ),
    ]
    if onset is not None and onset.started_at is not None and onset.ended_at is not None:
        span = onset.ended_at - onset.started_at
        accepted = onset.total.ok / span if span > 0 else 0.0
        evidence.append(
            Evidence(
                "onset",
                f"starts at stage `{onset.info.name}` ({c.describe_stage_load(onset)}); "
                f"accepted there: {accepted:,.1f} req/s",
                accepted,
            )
        )
    severity = (
        Severity.MAJOR
        if share >= MAJOR_SHARE
        else Severity.MINOR
        if share >= MINOR_SHARE
        else Severity.INFO
    )
    where = f" from stage `{onset.info.name}`" if onset is not None else ""
    return [
        Finding(
            kind=FindingClass.RATE_LIMIT,
            attribution=Attribution.POLICY,
            severity=severity,
            confidence=0.95,
            headline=(
                f"POLICY (rate limiting) — {c.pct(share)} of requests got HTTP 429"
                f"{' or 503 + Retry-After' if retry_after else ''}{where}"
            ),
            evidence=tuple(evidence),
            counter_evidence=(
                Evidence(
                    "excluded",
                    "excluded from the failures every other finding explains",
                ),
            ),
            examples=tuple(
                x
                for s in stages
                for op in s.operations
                for x in c.examples([s], op, lambda k: k in ("status:429", "status:503"), 1)
            )[:3],
            advice=(
                "the limiter, not the service's capacity, bounds throughput above this load: "
                "re-run with the limit lifted or with more client keys to measure capacity"
            ),
            stage=onset.info.name if onset is not None else None,
        )
    ]
