"""D11: a latency floor on kept-alive connections — Nagle's algorithm meeting delayed ACKs.

How it works. A server that writes a response in two segments (headers, then body) with
TCP_NODELAY off holds the second segment back (Nagle) until the first is acknowledged, and the
client delays that ACK (delayed ACK: ~40 ms on Linux, up to 200 ms elsewhere). A new connection
starts in quick-ACK mode and answers in about a millisecond; a kept-alive one then answers in
the delayed-ACK time, whatever the work. So the signature is two things at once, both tested:

- the responses on reused connections are slower than those on new ones: Welch's test on the
  two groups' means (sums and sums of squares per stage × operation, recorded by the engine),
  the difference with its 95 % interval;
- the operation's latencies pile up in a delayed-ACK window (FLOOR_WINDOWS): the share of them
  inside it, with its Wilson interval.

Severity follows from the intervals: major when the share's lower bound is ≥ MAJOR_SHARE and the
difference's lower bound ≥ MIN_DIFFERENCE_MS, minor when the test is significant and the share's
lower bound ≥ MINOR_SHARE. The fix is on the server (TCP_NODELAY, or one write per response).
"""

from __future__ import annotations

from typing import Any

from loadlens.analysis.bootstrap import Distribution
from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import MeanDifference, welch, wilson
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

# Delayed-ACK timers: Linux's minimum (HZ/25 = 40 ms, plus a tick), and the 200 ms of other
# stacks; a floor is a pile-up of latencies in one of these windows (ms).
FLOOR_WINDOWS = ((36.0, 60.0), (180.0, 260.0))
MIN_REUSED = 50  # responses on reused connections before the groups are compared
MIN_NEW = 2  # ... and on new ones (one per connection opened)
MIN_DIFFERENCE_MS = 20.0
MAJOR_SHARE = 0.5
MINOR_SHARE = 0.1
_US2_PER_MS2 = 1e6


def find(result: RunResult) -> list[Finding]:
    """One finding per operation with a delayed-ACK floor on its kept-alive connections."""
    findings = []
    for op, stats in result.operations.items():
        stages = [s for s in c.ran_stages(result) if op in s.diagnostics]
        groups = _groups(stages, op)
        if groups is None:
            continue
        (n_new, s_new, q_new), (n_reused, s_reused, q_reused) = groups
        difference = welch(n_reused, s_reused, q_reused, n_new, s_new, q_new)
        if difference.p >= c.SIGNIFICANCE or difference.low < MIN_DIFFERENCE_MS:
            continue
        distribution = Distribution.from_encoded(stats.histogram)
        window, inside = _pile_up(distribution)
        low, high = wilson(inside, distribution.total)
        if low < MINOR_SHARE:
            continue
        severity = Severity.MAJOR if low >= MAJOR_SHARE else Severity.MINOR
        findings.append(
            _finding(
                op,
                stages,
                severity,
                difference,
                window,
                inside,
                distribution.total,
                low,
                high,
                (n_new, s_new / n_new),
                (n_reused, s_reused / n_reused),
            )
        )
    return findings


Group = tuple[int, float, float]  # responses, sum (ms), sum of squares (ms²)


def _groups(stages: list[StageResult], op: str) -> tuple[Group, Group] | None:
    n_new = n_reused = 0
    s_new = s_reused = q_new = q_reused = 0
    for stage in stages:
        phases = stage.diagnostics[op].phases
        n_new += phases.new_connections
        n_reused += phases.responses - phases.new_connections
        s_new, q_new = s_new + phases.new_us, q_new + phases.new_squares
        s_reused, q_reused = s_reused + phases.reused_us, q_reused + phases.reused_squares
    if n_new < MIN_NEW or n_reused < MIN_REUSED or not s_reused:
        return None
    return (
        (n_new, s_new / 1000.0, q_new / _US2_PER_MS2),
        (n_reused, s_reused / 1000.0, q_reused / _US2_PER_MS2),
    )


def _pile_up(distribution: Distribution) -> tuple[tuple[float, float], int]:
    """The delayed-ACK window holding the most latencies, and how many it holds."""
    best = (FLOOR_WINDOWS[0], 0)
    for low, high in FLOOR_WINDOWS:
        inside = (distribution.values >= low) & (distribution.values <= high)
        count = int(distribution.counts[inside].sum())
        if count > best[1]:
            best = ((low, high), count)
    return best


def _finding(
    op: str,
    stages: list[StageResult],
    severity: Severity,
    difference: MeanDifference,
    window: tuple[float, float],
    inside: int,
    total: int,
    share_low: float,
    share_high: float,
    new: tuple[int, float],
    reused: tuple[int, float],
) -> Finding:
    share = c.ratio(inside, total)
    evidence = (
        Evidence(
            "reused_vs_new",
            f"on reused connections {reused[1]:,.1f} ms mean ({reused[0]:,} responses), on new "
            f"ones {new[1]:,.1f} ms ({new[0]:,}): +{difference.difference:,.1f} ms [95% CI "
            f"{difference.low:,.1f}, {difference.high:,.1f}], Welch {c.fmt_p(difference.p)}",
            difference.difference,
        ),
        Evidence(
            "floor",
            f"{c.pct(share)} of {total:,} latencies [95% CI {c.pct(share_low)}, "
            f"{c.pct(share_high)}] lie in the delayed-ACK window {window[0]:g}–{window[1]:g} ms",
            share,
        ),
    )
    return Finding(
        kind=FindingClass.LATENCY_FLOOR,
        attribution=Attribution.SERVICE_BUG,
        severity=severity,
        confidence=c.UNCALIBRATED,
        headline=(
            f"LATENCY FLOOR (Nagle / delayed ACK) — `{op}` answers in {reused[1]:,.0f} ms on "
            f"kept-alive connections but {new[1]:,.1f} ms on new ones: the server writes each "
            "response in two segments with TCP_NODELAY off"
        ),
        evidence=evidence,
        counter_evidence=(
            Evidence(
                "not_work",
                "not the server's work: the same requests answer in "
                f"{new[1]:,.1f} ms on a new connection (quick-ACK mode)",
            ),
        ),
        examples=_in_window(stages, op, window),
        advice=(
            "set TCP_NODELAY on the server's sockets, or write each response (headers and "
            "body) in one send; the floor then disappears"
        ),
        operation=op,
    )


def _in_window(
    stages: list[StageResult], op: str, window: tuple[float, float]
) -> tuple[dict[str, Any], ...]:
    found = [
        x
        for x in c.examples(stages, op, lambda _: True, limit=10_000)
        if window[0] <= (x.get("latency_ms") or 0.0) <= window[1]
    ]
    return tuple(found[:3])
