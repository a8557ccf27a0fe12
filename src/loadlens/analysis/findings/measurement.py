"""D10: measurement validity — the generator's health, too few samples.

The generator's health (`analysis.generator.generator_notes`: saturated seconds, the largest
event-loop lag and its cause) is a warning, not a veto: the gates were judged against the
error bound it gives (docs/thresholds.md), and a gate the bound leaves undecided makes the
verdict INCONCLUSIVE by itself. Dropped iterations are not counted here: they happen when a
slow service fills `max_in_flight`, which is the service's doing. Samples matter only where a
gate needs them (the gate is then INSUFFICIENT): fewer than MIN_RUN_SAMPLES latencies in the
whole run, or an operation with fewer than TAIL_SAMPLES (fewer than 20 requests above its
p95), is named for information only.
"""

from __future__ import annotations

from loadlens.analysis.generator import generator_notes, saturation
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

MIN_RUN_SAMPLES = 20
TAIL_SAMPLES = 400


def find(result: RunResult) -> list[Finding]:
    """Findings that say how far the run's numbers can be trusted."""
    findings = []
    problems = generator_notes(result)
    requests = result.total.count
    if problems:
        findings.append(
            Finding(
                kind=FindingClass.MEASUREMENT,
                attribution=Attribution.LOAD_GENERATOR,
                # saturation limited what was sent; lag alone only widened the bound
                severity=Severity.MINOR if saturation(result) else Severity.INFO,
                confidence=0.9,
                headline="LOAD GENERATOR — the generator's own delays widened the error bound "
                f"of the latencies ({len(problems)} note{'s' if len(problems) > 1 else ''})",
                evidence=tuple(Evidence("generator", p) for p in problems),
                advice="for tighter bounds, run on a quieter machine, add workers, or lower the "
                "load per worker; gates were judged within the bound",
            )
        )
    samples = result.total.latency.count
    # none at all: nothing answered, which the unreachable finding names (not "run longer")
    if requests and 0 < samples < MIN_RUN_SAMPLES:
        findings.append(
            Finding(
                kind=FindingClass.MEASUREMENT,
                attribution=Attribution.MEASUREMENT,
                severity=Severity.INFO,
                confidence=0.95,
                headline=f"MEASUREMENT — only {samples:,} latencies in the whole run: "
                "percentiles are rough",
                evidence=(
                    Evidence(
                        "samples",
                        f"{samples:,} of {requests:,} requests got a latency",
                        float(samples),
                    ),
                ),
                advice="run longer or at a higher rate before gating on a percentile",
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
