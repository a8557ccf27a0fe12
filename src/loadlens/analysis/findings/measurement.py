"""D10: measurement validity — a saturated generator, dropped iterations, too few samples.

The generator checks are `analysis.verdict.generator_problems` (CPU, event-loop lag, late
iterations), so the verdict and the finding agree. Dropped iterations are not counted here:
they happen when a slow service fills `max_in_flight`, which is the service's doing. Percentiles
need samples: fewer than
MIN_RUN_SAMPLES latencies in the whole run cannot be judged at all (major), and an operation
with fewer than TAIL_SAMPLES has fewer than 20 requests above its p95 (info).
"""

from __future__ import annotations

from loadlens.analysis.verdict import generator_problems
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_RUN_SAMPLES = 20
TAIL_SAMPLES = 400


def find(result: RunResult) -> list[Finding]:
    """Findings that say how far the run's numbers can be trusted."""
    findings = []
    problems = generator_problems(result)
    requests = result.total.count
    if problems:
        findings.append(
            Finding(
                kind=FindingClass.MEASUREMENT,
                attribution=Attribution.LOAD_GENERATOR,
                severity=Severity.MAJOR,
                confidence=0.9,
                headline="LOAD GENERATOR — the generator, not the service, may have been the "
                f"bottleneck ({len(problems)} problem{'s' if len(problems) > 1 else ''})",
                evidence=tuple(Evidence("generator", p) for p in problems),
                advice="add workers or machines, or lower the load per worker, and re-run; "
                "latency and throughput of this run understate the service",
            )
        )
    samples = result.total.latency.count
    if requests and samples < MIN_RUN_SAMPLES:
        findings.append(
            Finding(
                kind=FindingClass.MEASUREMENT,
                attribution=Attribution.MEASUREMENT,
                severity=Severity.MAJOR,
                confidence=0.95,
                headline=f"MEASUREMENT — only {samples:,} latencies in the whole run: "
                "percentiles cannot be judged",
                evidence=(
                    Evidence(
                        "samples",
                        f"{samples:,} of {requests:,} requests got a latency",
                        float(samples),
                    ),
                ),
                advice="run longer or at a higher rate",
            )
        )
    # Setup and teardown steps run a few times by design: their tails are nobody's concern.
    loaded = {
        op
        for stage in result.stages
        if stage.info.load.get("model") in ("closed", "open")
        for op in stage.operations
    }
    thin = [
        (op, s.latency.count)
        for op, s in result.operations.items()
        if 0 < s.latency.count < TAIL_SAMPLES and op in loaded
    ]
    if thin and samples >= MIN_RUN_SAMPLES:
        findings.append(
            Finding(
                kind=FindingClass.MEASUREMENT,
                attribution=Attribution.MEASUREMENT,
                severity=Severity.INFO,
                confidence=0.95,
                headline="MEASUREMENT — thin tails: "
                + ", ".join(f"`{op}` {n:,} samples" for op, n in thin)
                + f" (p95 needs ≥ {TAIL_SAMPLES} for 20 requests above it)",
                evidence=tuple(
                    Evidence("samples", f"`{op}`: {n:,} latencies, {n // 20:,} above p95", float(n))
                    for op, n in thin
                ),
                advice="treat their p95/p99 as rough; run longer for a tail you can gate on",
            )
        )
    return findings
