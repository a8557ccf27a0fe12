"""D2: broken chaining — a captured value is missing, or has a shape the next call rejects.

Three signals, strongest first:

1. `capture_failed:VAR` outcomes (the producer's extractor found nothing) and
   `missing_variable:VAR@STEP` (a consumer could not be sent): the chain broke, no statistics
   needed; one finding per variable whichever outcome names it. When the producer STEP never
   failed to capture VAR and its own failures are server errors or transport errors (≥
   PRODUCER_FAULT), the values are missing because the producer failed: that failure is the
   cause (found by the race or attribute finding), not the chain, and no finding is made here.
2. Shape mismatch inside one consumer: requests whose `VAR` had one shape fail ≥ BAD_RATE
   while those with another shape succeed (fail ≤ GOOD_RATE), Fisher p < SIGNIFICANCE, and
   the failures are mostly 4xx (a 5xx that follows a value's shape is the service's bug).
3. A consumer failing ≥ ALL_FAIL_RATE with 4xx, each failure using `VAR` from the capture of an
   operation that itself succeeds: the captured value is not what the consumer expects.

Blamed on the script (the extractor or the variable it uses) or, when the values came from a
pool or feeder, on the test data.
"""

from __future__ import annotations

from typing import Any

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import fisher_exact
from loadlens.metrics.feature_keys import FeatureKind
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity
from loadlens.model.outcome import Outcome, OutcomeKind

BAD_RATE = 0.9
GOOD_RATE = 0.1
ALL_FAIL_RATE = 0.95
PRODUCER_OK = 0.9  # the producing operation succeeds at least this often
PRODUCER_FAULT = 0.8  # this share of a producer's failures being 5xx/transport explains the gap
MIN_SUPPORT = 5
CLIENT_SHARE = 0.8  # a shape mismatch is the script's when this share of failures is 4xx
MAJOR_SHARE = 0.05


def find(result: RunResult) -> list[Finding]:
    """Broken-chain findings: failed captures, shape mismatches, rejected captured values."""
    findings = _failed_captures(result) + _unsendable(result)
    for op in result.operations:
        stages = c.diagnosed_stages(result, op)
        if not stages:
            continue
        found = _shape_mismatch(stages, op)
        if found is None:
            found = _rejected_capture(result, stages, op)
        if found is not None:
            findings.append(found)
    return findings


def _failed_captures(result: RunResult) -> list[Finding]:
    by_var: dict[str, dict[OutcomeKind, dict[str, int]]] = {}  # var -> kind -> op -> n
    producers: dict[str, set[str]] = {}  # var -> the steps that should have set it
    keys: dict[str, set[str]] = {}  # var -> the outcome keys that name it
    for op, stats in result.operations.items():
        for key, n in stats.outcomes.items():
            outcome = Outcome.parse(key)
            if outcome is None or outcome.kind not in _BROKEN or not n:
                continue
            by_op = by_var.setdefault(outcome.variable, {}).setdefault(outcome.kind, {})
            by_op[op] = by_op.get(op, 0) + n
            keys.setdefault(outcome.variable, set()).add(key)
            if outcome.step:
                producers.setdefault(outcome.variable, set()).add(outcome.step)
    findings = []
    for var, kinds in sorted(by_var.items()):
        captured = kinds.get(OutcomeKind.CAPTURE_FAILED, {})
        missing = kinds.get(OutcomeKind.MISSING_VARIABLE, {})
        if not captured and _producer_failed(result, producers.get(var, set())):
            continue
        ops = set(captured) | set(missing)
        requests = sum(result.operations[o].count for o in ops)
        broken = sum(captured.values()) + sum(missing.values())
        evidence = [
            Evidence(
                "capture_failed",
                f"capture of `{var}` found nothing in `{o}`: {n:,} of "
                f"{result.operations[o].count:,} requests",
                float(n),
            )
            for o, n in sorted(captured.items())
        ] + [
            Evidence(
                "missing_variable",
                f"`{o}` not sent {n:,} times: `{var}` had no value",
                float(n),
            )
            for o, n in sorted(missing.items())
        ]
        stages = c.ran_stages(result)
        wanted = keys[var]
        examples: tuple[dict[str, Any], ...] = ()
        for o in sorted(ops):
            examples += c.examples(stages, o, wanted.__contains__, limit=2)
        where = ", ".join(f"`{o}`" for o in sorted(captured)) or "an earlier step"
        findings.append(
            Finding(
                kind=FindingClass.BROKEN_CHAIN,
                attribution=Attribution.TEST_SCRIPT,
                severity=Severity.MAJOR
                if c.ratio(broken, requests) >= MAJOR_SHARE
                else Severity.MINOR,
                confidence=0.95,
                headline=(
                    f"TEST SCRIPT (broken chain) — `{var}` not captured by {where}: "
                    f"{broken:,} of {requests:,} requests ({c.pct(c.ratio(broken, requests))}) "
                    "failed to capture or could not be sent"
                ),
                evidence=tuple(evidence),
                examples=examples[:3],
                advice=(
                    f"check the extractor of `{var}` against a real response of {where} "
                    "(field name, JSONPath, status) and re-run"
                ),
                operation=min(captured or missing),
            )
        )
    return findings


_BROKEN = (OutcomeKind.CAPTURE_FAILED, OutcomeKind.MISSING_VARIABLE)


def _unsendable(result: RunResult) -> list[Finding]:
    """One finding per variable whose values could not be written into a request (CR or LF,
    text beyond Latin-1, in a header): the requests were never sent."""
    by_var: dict[str, dict[str, int]] = {}  # var -> op -> requests not sent
    for op, stats in result.operations.items():
        for key, n in stats.outcomes.items():
            outcome = Outcome.parse(key)
            if outcome is not None and outcome.kind is OutcomeKind.UNSENDABLE and n:
                by_op = by_var.setdefault(outcome.variable, {})
                by_op[op] = by_op.get(op, 0) + n
    findings = []
    for var, ops in sorted(by_var.items()):
        requests = sum(result.operations[o].count for o in ops)
        unsent = sum(ops.values())
        what = f"`{var}`" if var else "a value"
        where = ", ".join(f"`{o}`" for o in sorted(ops))
        findings.append(
            Finding(
                kind=FindingClass.BROKEN_CHAIN,
                attribution=Attribution.TEST_SCRIPT,
                severity=Severity.MAJOR
                if c.ratio(unsent, requests) >= MAJOR_SHARE
                else Severity.MINOR,
                confidence=0.99,
                headline=(
                    f"TEST SCRIPT (broken chain) — {what} cannot be written into {where}: "
                    f"{unsent:,} of {requests:,} requests ({c.pct(c.ratio(unsent, requests))}) "
                    "not sent"
                ),
                evidence=tuple(
                    Evidence(
                        "unsendable",
                        f"`{o}` not sent {n:,} times: {what} held CR, LF, NUL or text beyond "
                        "Latin-1 where the request puts it (a header)",
                        float(n),
                    )
                    for o, n in sorted(ops.items())
                ),
                advice=(
                    f"transform {what} before it goes into a header (`| urlencode`, "
                    "`| base64`) or send it in the URL or the body, which encode it"
                ),
                operation=min(ops),
            )
        )
    return findings


def _producer_failed(result: RunResult, steps: set[str]) -> bool:
    """Whether the producing steps' own failures, mostly 5xx or no response, explain why a
    variable had no value (the capture never ran on them; it never failed on a success)."""
    if not steps or not all(step in result.operations for step in steps):
        return False
    failures = faults = 0
    for step in steps:
        for key, n in result.operations[step].outcomes.items():
            outcome = Outcome.parse(key)
            if outcome is None or not c.is_failure(key):
                continue
            failures += n
            if outcome.is_server_error or outcome.kind is OutcomeKind.TRANSPORT:
                faults += n
    return failures > 0 and c.ratio(faults, failures) >= PRODUCER_FAULT


def _shapes(stages: list[StageResult], op: str) -> dict[str, dict[str, c.Table]]:
    by_var: dict[str, dict[str, c.Table]] = {}
    for key, feature in c.parsed_features(stages, op):
        if feature.kind is FeatureKind.VALUE_SHAPE:
            table = c.feature_table(stages, op, key, c.is_failure)
            by_var.setdefault(feature.name, {})[feature.value] = table
    return by_var


def _sources(stages: list[StageResult], op: str, var: str) -> list[str]:
    return [
        feature.value
        for _, feature in c.parsed_features(stages, op)
        if feature.kind is FeatureKind.SOURCE and feature.name == var
    ]


def _attribution(sources: list[str]) -> Attribution:
    if sources and all(s in ("pool", "feeder") for s in sources):
        return Attribution.TEST_DATA
    return Attribution.TEST_SCRIPT


def _value_of(example: dict[str, Any], var: str) -> str | None:
    variables = example.get("variables", {})
    return str(variables[var]) if var in variables else None


def _shape_mismatch(stages: list[StageResult], op: str) -> Finding | None:
    outcomes = c.op_outcomes(stages, op)
    failures = sum(n for k, n in outcomes.items() if c.is_failure(k))
    client = sum(n for k, n in outcomes.items() if c.is_client_error(k))
    if c.ratio(client, failures) < CLIENT_SHARE:
        return None  # server errors that follow a shape: the service's (the attribute finding)
    for var, shapes in sorted(_shapes(stages, op).items()):
        if len(shapes) < 2:
            continue
        bad = [
            (s, t)
            for s, t in shapes.items()
            if t.with_feature >= MIN_SUPPORT and c.ratio(t.with_fail, t.with_feature) >= BAD_RATE
        ]
        good = [
            (s, t)
            for s, t in shapes.items()
            if t.with_feature >= MIN_SUPPORT and c.ratio(t.with_fail, t.with_feature) <= GOOD_RATE
        ]
        if not bad or not good:
            continue
        bad_shape, bt = max(bad, key=lambda st: st[1].with_fail)
        good_shape, gt = max(good, key=lambda st: st[1].with_ok)
        p = fisher_exact(bt.with_fail, bt.with_ok, gt.with_fail, gt.with_ok, "greater")
        if p >= c.SIGNIFICANCE:
            continue
        return _mismatch_finding(stages, op, var, (bad_shape, bt), (good_shape, gt), p)
    return None


def _mismatch_finding(
    stages: list[StageResult],
    op: str,
    var: str,
    bad: tuple[str, c.Table],
    good: tuple[str, c.Table],
    p: float,
) -> Finding:
    (bad_shape, bt), (good_shape, gt) = bad, good
    failures = bt.failures
    sources = _sources(stages, op, var)
    failed_examples = c.examples(stages, op, c.is_failure)
    ok_examples = c.examples(stages, op, lambda k: k.startswith("ok"))
    bad_value = next((v for e in failed_examples if (v := _value_of(e, var))), None)
    good_value = next((v for e in ok_examples if (v := _value_of(e, var))), None)
    outcomes = c.op_outcomes(stages, op)
    evidence = [
        Evidence(
            "bad_shape",
            f"`{var}` shaped `{bad_shape}`: {bt.with_fail:,}/{bt.with_feature:,} failed "
            f"({c.pct(c.ratio(bt.with_fail, bt.with_feature))})"
            + (f", e.g. {bad_value}" if bad_value else ""),
            c.ratio(bt.with_fail, bt.with_feature),
        ),
        Evidence(
            "good_shape",
            f"`{var}` shaped `{good_shape}`: {gt.with_fail:,}/{gt.with_feature:,} failed "
            f"({c.pct(c.ratio(gt.with_fail, gt.with_feature))})"
            + (f", e.g. {good_value}" if good_value else ""),
            c.ratio(gt.with_fail, gt.with_feature),
        ),
        Evidence("fisher_p", f"Fisher exact {c.fmt_p(p)} (one-sided)", p),
        Evidence(
            "coverage",
            f"the `{bad_shape}` values account for {c.pct(c.ratio(bt.with_fail, failures))} "
            f"of the operation's {failures:,} failures",
            c.ratio(bt.with_fail, failures),
        ),
    ]
    if sources:
        evidence.append(
            Evidence("source", f"`{var}` comes from: " + ", ".join(f"`{s}`" for s in sources))
        )
    attribution = _attribution(sources)
    return Finding(
        kind=FindingClass.BROKEN_CHAIN,
        attribution=attribution,
        severity=Severity.MAJOR
        if c.ratio(bt.with_fail, bt.requests) >= MAJOR_SHARE
        else Severity.MINOR,
        confidence=0.9,
        headline=(
            f"{attribution.label} (value shape) — `{op}`: requests with `{var}` shaped "
            f"`{bad_shape}` fail {c.pct(c.ratio(bt.with_fail, bt.with_feature))} "
            f"({c.outcome_summary(outcomes, c.is_failure)}); shaped `{good_shape}` they succeed"
        ),
        evidence=tuple(evidence),
        counter_evidence=(
            Evidence(
                "same_operation",
                f"same operation, same run: only the shape of `{var}` differs between "
                "failures and successes",
            ),
        ),
        examples=failed_examples[:2] + ok_examples[:1],
        advice=(
            f"make `{var}` carry `{good_shape}` values: the extractor probably points at the "
            f"wrong field of {', '.join(f'`{s}`' for s in sources) or 'its source'}"
        ),
        operation=op,
    )


def _rejected_capture(result: RunResult, stages: list[StageResult], op: str) -> Finding | None:
    outcomes = c.op_outcomes(stages, op)
    requests = sum(outcomes.values())
    failures = sum(n for k, n in outcomes.items() if c.is_failure(k))
    client = sum(n for k, n in outcomes.items() if c.is_client_error(k))
    if failures < c.MIN_FAILURES or c.ratio(failures, requests) < ALL_FAIL_RATE:
        return None
    if c.ratio(client, failures) < 0.8:
        return None
    for var, shapes in sorted(_shapes(stages, op).items()):
        sources = _sources(stages, op, var)
        producers = [s for s in sources if s in result.operations and s != op]
        ok_producers = [s for s in producers if 1 - result.operations[s].error_rate >= PRODUCER_OK]
        # Values from a pool or a feeder have no producer in the run to vouch for them (a pool
        # filled by setup's captures, a data file): the same rule holds with the data as origin.
        from_data = not ok_producers and _attribution(sources) is Attribution.TEST_DATA
        if not ok_producers and not from_data:
            continue
        # The shapes no request succeeded with (one kind of id may fall into two shapes:
        # `doc_<hex>` and, when its digits happen to be decimal, `doc_<int>`).
        rejected = sorted(
            ((n, t.with_fail) for n, t in shapes.items() if t.with_fail and not t.with_ok),
            key=lambda item: -item[1],
        )
        covered = sum(n for _, n in rejected)
        if c.ratio(covered, failures) < ALL_FAIL_RATE:
            continue
        shape = rejected[0][0]
        named = ", ".join(f"`{n}`" for n, _ in rejected[:3]) + (
            ", ..." if len(rejected) > 3 else ""
        )
        failed_examples = c.examples(stages, op, c.is_failure)
        value = next((v for e in failed_examples if (v := _value_of(e, var))), None)
        if from_data:
            producer = " and ".join(sorted(set(sources)))
            origin = Evidence(
                "source",
                f"every failing request used `{var}` taken from the {producer} (filled by "
                "setup's captures or given as data), not captured earlier in the same flow",
                1.0,
            )
        else:
            producer = ok_producers[0]
            stats = result.operations[producer]
            origin = Evidence(
                "producer",
                f"every failing request used `{var}` captured by `{producer}`, which succeeded "
                f"{c.pct(1 - stats.error_rate)} ({stats.ok:,}/{stats.count:,})",
                1 - stats.error_rate,
            )
        evidence = (
            Evidence(
                "fail_rate",
                f"`{op}` failed {failures:,}/{requests:,} ({c.pct(c.ratio(failures, requests))}): "
                f"{c.outcome_summary(outcomes, c.is_failure)}",
                c.ratio(failures, requests),
            ),
            origin,
            Evidence(
                "captured_shape",
                f"captured values: shape{'s' if len(rejected) > 1 else ''} {named} in "
                f"{covered:,}/{failures:,} failures"
                + (f" (e.g. {value})" if value else "")
                + f"; no request with {'these shapes' if len(rejected) > 1 else 'that shape'} "
                "succeeded",
                float(covered),
            ),
        )
        return Finding(
            kind=FindingClass.BROKEN_CHAIN,
            attribution=Attribution.TEST_DATA if from_data else _attribution([producer]),
            severity=Severity.MAJOR,
            confidence=0.75,
            headline=(
                f"TEST SCRIPT (correlation) — `{op}` {c.pct(c.ratio(failures, requests))} "
                f"failed ({c.outcome_summary(outcomes, c.is_failure)}) using `{var}` "
                f"shaped `{shape}` from `{producer}`"
            ),
            evidence=evidence,
            counter_evidence=(
                Evidence(
                    "client_errors",
                    f"not server errors: {c.pct(c.ratio(client, failures))} are 4xx",
                    c.ratio(client, failures),
                ),
            ),
            examples=failed_examples,
            advice=(
                f"compare the values of `{var}` with what `{op}` expects: the {producer} may "
                "hold another kind of id, or the capture that filled it the wrong field"
                if from_data
                else f"compare a `{producer}` response with what `{op}` expects: the extractor "
                f"of `{var}` may point at the wrong field, or the service returns another id type"
            ),
            operation=op,
        )
    return None
