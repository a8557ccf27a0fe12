"""D13: failures no other finding explains, described by when they happened.

Every other diagnosis names a cause (an attribute, a race, a broken chain, a saturated
service...). When none of them accounts for an operation's failures, the run still says what
it measured about them rather than nothing: the statuses (or the errors of requests that got
no response), and which of three patterns the failures followed in time, each tested:

1. **From a moment on** (or up to one): one split of the operation's seconds, in run order,
   before which at most ONSET_BEFORE of its requests failed and after which at least
   ONSET_AFTER did, Fisher p < ONSET_P (the split is searched, hence the strict p). 401/403
   that begin after a while and stay are what an expired credential looks like.
2. **Growing with load**: the stages' failure rates differ by at least LOAD_RATIO× between the
   lightest and the heaviest stage, Fisher p < LOAD_P.
3. **Steady**: neither; the rate is stated per stage (what was ruled out), and the failures are
   the service's to explain from its own logs.

Failed responses (unexpected HTTP statuses; 429 and shed 503s are policy) and requests that
got no response (timeouts, resets) count; requests never sent are the `broken_chain`
finding's, and a stage in which nothing answered is `unreachable`'s (a run-wide finding
covers every operation). 5xx and no response are blamed on the service, 4xx on the test script
(the service rejects what the script sends).
"""

from __future__ import annotations

from dataclasses import dataclass

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import fisher_exact
from loadlens.metrics.result import RunResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity
from loadlens.model.outcome import Outcome, OutcomeKind

MIN_FAILURES = 5
MIN_SHARE = 0.01  # of the operation's requests
MAJOR_SHARE = 0.05
SERVICE_SHARE = 0.5  # of the operation's failures: the rest are the script's (never sent)
ONSET_BEFORE = 0.05
ONSET_AFTER = 0.5
ONSET_P = 1e-6
MIN_SIDE = 20  # requests on each side of a split, and in each stage compared
LOAD_RATIO = 2.0
LOAD_P = 1e-3
_AUTH = (401, 403)


@dataclass(frozen=True, slots=True)
class _Second:
    stage: str
    second: int
    requests: int
    failed: int


def find(result: RunResult, explained: list[Finding]) -> list[Finding]:
    """A finding for each operation whose failed responses no finding in `explained` names."""
    if any(f.operation is None and f.kind is not FindingClass.MEASUREMENT for f in explained):
        return []  # a run-wide cause (an unreachable or saturated service) covers them all
    named = {f.operation for f in explained if f.kind is not FindingClass.MEASUREMENT}
    findings = []
    for op, stats in result.operations.items():
        # Without the diagnostics (an older result) no attribute was tested: nothing to say.
        if op in named or not stats.count or not c.diagnosed_stages(result, op):
            continue
        failed = {k: n for k, n in stats.outcomes.items() if _failed(k) and n}
        failures = sum(failed.values())
        every_failure = sum(n for k, n in stats.outcomes.items() if c.is_failure(k))
        if (
            failures < MIN_FAILURES
            or c.ratio(failures, stats.count) < MIN_SHARE
            or c.ratio(failures, every_failure) < SERVICE_SHARE
        ):
            continue
        findings.append(_describe(result, op, failed, failures, stats.count))
    return findings


def _failed(key: str) -> bool:
    """A failed response, or a request sent that got none."""
    outcome = Outcome.parse(key)
    return (
        outcome is not None
        and outcome.kind in (OutcomeKind.STATUS, OutcomeKind.TRANSPORT)
        and c.is_failure(key)
    )


def _describe(
    result: RunResult, op: str, failed: dict[str, int], failures: int, requests: int
) -> Finding:
    statuses = c.outcome_summary(failed, failed.__contains__)
    rejected = sum(n for k, n in failed.items() if 400 <= (c.status_of(k) or 0) < 500)
    server = rejected * 2 < failures  # mostly 5xx or no response
    attribution = Attribution.SERVICE_BUG if server else Attribution.TEST_SCRIPT
    share = c.ratio(failures, requests)
    severity = Severity.MAJOR if share >= MAJOR_SHARE else Severity.MINOR
    stages = c.ran_stages(result)
    per_stage = _stage_rates(result, op)
    # The load levels ruled out, when the run had more than one.
    ruled_out = tuple(
        Evidence("stage_rate", f"stage `{name}` ({load}): {bad:,} of {n:,} failed", float(bad))
        for name, load, bad, n in per_stage
        if len(per_stage) > 1
    )
    examples = c.examples(stages, op, failed.__contains__)
    onset = _onset(_seconds(result, op))
    grows = _grows_with_load(per_stage)
    where = f"`{op}`: {statuses}"
    if onset is not None:
        (before_bad, before_n), (after_bad, after_n), at, p, began = onset
        moment = f"{at.second} s into stage `{at.stage}`"
        what = "from" if began else "until"
        credential = began and all(c.status_of(k) in _AUTH for k in failed)
        return Finding(
            kind=FindingClass.ERROR_PATTERN,
            attribution=attribution,
            severity=severity,
            confidence=0.9,
            headline=(
                f"{attribution.label} (errors {what} a moment on) — {where} {what} {moment}"
                f"{' on' if began else ''}: {before_bad:,} of {before_n:,} requests failed "
                f"before, {after_bad:,} of {after_n:,} after"
            ),
            evidence=(
                Evidence("before", f"before {moment}: {before_bad:,} of {before_n:,} failed"),
                Evidence("after", f"from {moment}: {after_bad:,} of {after_n:,} failed"),
                Evidence("onset_test", f"Fisher's exact test, {c.fmt_p(p)}", p),
            ),
            examples=examples,
            advice=(
                "401/403 that begin after a while and stay are what an expired token or "
                "session looks like: obtain it again in the flow (or before it expires)"
                if credential
                else f"look up what changed in the service at {moment} (its logs, a restart, "
                "a quota or cache that filled up); the examples show the failing requests"
            ),
            operation=op,
            stage=at.stage,
        )
    if grows is not None:
        (low_name, low_load, low_bad, low_n), (high_name, high_load, high_bad, high_n), p = grows
        return Finding(
            kind=FindingClass.ERROR_PATTERN,
            attribution=attribution,
            severity=severity,
            confidence=0.8,
            headline=(
                f"{attribution.label} (errors grow with load) — {where}: "
                f"{c.pct(c.ratio(low_bad, low_n))} of requests failed at {low_load}, "
                f"{c.pct(c.ratio(high_bad, high_n))} at {high_load}"
            ),
            evidence=(
                Evidence("stage_rate", f"stage `{low_name}` ({low_load}): {low_bad:,} of "
                         f"{low_n:,} failed", float(low_bad)),
                Evidence("stage_rate", f"stage `{high_name}` ({high_load}): {high_bad:,} of "
                         f"{high_n:,} failed", float(high_bad)),
                Evidence("load_test", f"Fisher's exact test, {c.fmt_p(p)}", p),
            ),
            examples=examples,
            advice="the failures depend on the load: find the resource they wait for or run "
            "out of (the service's logs at the heavier stage; its pools, queues and limits)",
            operation=op,
        )  # fmt: skip
    return Finding(
        kind=FindingClass.ERROR_PATTERN,
        attribution=attribution,
        severity=severity,
        confidence=0.7,
        headline=(
            f"{attribution.label} (steady errors) — `{op}`: {failures:,} of {requests:,} "
            f"requests ({c.pct(share)}) failed ({statuses}) at a steady rate: no request "
            "attribute, load level or "
            "moment of the run was found to explain them"
        ),
        evidence=(
            Evidence("failures", f"{failures:,} of {requests:,} requests: {statuses}", failures),
        ),
        counter_evidence=ruled_out,
        examples=examples,
        advice=(
            "the service fails these requests without a pattern the run can see: find them in "
            "its logs (the examples show the requests and the answers)"
            if server
            else "the service rejects these requests: compare an example with what the "
            "endpoint expects"
        ),
        operation=op,
    )


def _stage_rates(result: RunResult, op: str) -> list[tuple[str, str, int, int]]:
    """(stage, its load, failed responses, requests) for each stage `op` ran in."""
    rows = []
    for stage in c.ran_stages(result):
        stats = stage.operations.get(op)
        if stats is None or not stats.count:
            continue
        bad = sum(n for k, n in stats.outcomes.items() if _failed(k))
        rows.append((stage.info.name, c.describe_stage_load(stage), bad, stats.count))
    return rows


def _grows_with_load(
    rows: list[tuple[str, str, int, int]],
) -> tuple[tuple[str, str, int, int], tuple[str, str, int, int], float] | None:
    """The lightest and heaviest stages when the failure rate differs between them."""
    compared = [r for r in rows if r[3] >= MIN_SIDE]
    if len(compared) < 2:
        return None
    low, high = compared[0], compared[-1]
    low_rate, high_rate = c.ratio(low[2], low[3]), c.ratio(high[2], high[3])
    if high_rate < LOAD_RATIO * low_rate or high_rate == 0:
        return None
    p = fisher_exact(high[2], high[3] - high[2], low[2], low[3] - low[2], alternative="greater")
    return (low, high, p) if p < LOAD_P else None


def _seconds(result: RunResult, op: str) -> list[_Second]:
    """The operation's requests and failures per second, in run order.

    The series counts every non-ok outcome as an error; the operation's failures are mostly
    the service's (SERVICE_SHARE), so its errors stand for them here."""
    names = {s.info.index: s.info.name for s in result.stages}
    seconds = []
    for point in sorted(result.series, key=lambda p: (p.stage, p.second)):
        stats = point.ops.get(op)
        if stats is not None and stats.count:
            seconds.append(
                _Second(names.get(point.stage, "?"), point.second, stats.count, stats.errors)
            )
    return seconds


def _onset(
    seconds: list[_Second],
) -> tuple[tuple[int, int], tuple[int, int], _Second, float, bool] | None:
    """((failed, requests) before, the same after, the first second after, p, began) of the
    split where failures began (or ended), or None."""
    total_n = sum(s.requests for s in seconds)
    total_bad = sum(s.failed for s in seconds)
    best: tuple[tuple[int, int], tuple[int, int], _Second, float, bool] | None = None
    n = bad = 0
    for index in range(1, len(seconds)):
        n += seconds[index - 1].requests
        bad += seconds[index - 1].failed
        after_n, after_bad = total_n - n, total_bad - bad
        if n < MIN_SIDE or after_n < MIN_SIDE:
            continue
        before_rate, after_rate = c.ratio(bad, n), c.ratio(after_bad, after_n)
        began = before_rate <= ONSET_BEFORE and after_rate >= ONSET_AFTER
        ended = before_rate >= ONSET_AFTER and after_rate <= ONSET_BEFORE
        if not (began or ended):
            continue
        p = fisher_exact(after_bad, after_n - after_bad, bad, n - bad)
        if p < ONSET_P and (best is None or p < best[3]):
            best = ((bad, n), (after_bad, after_n), seconds[index], p, began)
    return best
