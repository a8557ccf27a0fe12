"""D2: broken chaining — a captured value is missing, or has a shape the next call rejects.

Three signals, strongest first:

1. `capture_failed:VAR` outcomes (the producer's extractor found nothing) and
   `missing_variable:VAR` (a consumer could not be sent): the chain broke, no statistics needed.
2. Shape mismatch inside one consumer: requests whose `VAR` had one shape fail ≥ BAD_RATE
   while those with another shape succeed (fail ≤ GOOD_RATE), Fisher p < SIGNIFICANCE.
3. A consumer failing ≥ ALL_FAIL_RATE with 4xx, each failure using `VAR` from the capture of an
   operation that itself succeeds: the captured value is not what the consumer expects.

Blamed on the script (the extractor or the variable it uses) or, when the values came from a
pool or feeder, on the test data.
"""

from __future__ import annotations

from typing import Any

from loadlens.analysis.findings import common as c
from loadlens.analysis.stats import fisher_exact
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity

BAD_RATE = 0.9
GOOD_RATE = 0.1
ALL_FAIL_RATE = 0.95
PRODUCER_OK = 0.9  # the producing operation succeeds at least this often
MIN_SUPPORT = 5
MAJOR_SHARE = 0.05


def find(result: RunResult) -> list[Finding]:
    """Broken-chain findings: failed captures, shape mismatches, rejected captured values."""
    findings = _failed_captures(result)
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
    by_var: dict[str, dict[str, dict[str, int]]] = {}  # var -> kind -> op -> n
    for op, stats in result.operations.items():
        for key, n in stats.outcomes.items():
            kind, _, var = key.partition(":")
            if kind in ("capture_failed", "missing_variable") and n:
                by_var.setdefault(var, {}).setdefault(kind, {})[op] = n
    findings = []
    for var, kinds in sorted(by_var.items()):
        captured = kinds.get("capture_failed", {})
        missing = kinds.get("missing_variable", {})
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
        wanted = {f"capture_failed:{var}", f"missing_variable:{var}"}
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


def _shapes(stages: list[StageResult], op: str) -> dict[str, dict[str, c.Table]]:
    by_var: dict[str, dict[str, c.Table]] = {}
    for feature in c.features_of(stages, op):
        if feature.startswith("v:") and "=" in feature:
            var, _, shape = feature[2:].partition("=")
            by_var.setdefault(var, {})[shape] = c.feature_table(stages, op, feature, c.is_failure)
    return by_var


def _sources(stages: list[StageResult], op: str, var: str) -> list[str]:
    prefix = f"src:{var}@"
    return [f[len(prefix) :] for f in c.features_of(stages, op) if f.startswith(prefix)]


def _attribution(sources: list[str]) -> Attribution:
    if sources and all(s in ("pool", "feeder") for s in sources):
        return Attribution.TEST_DATA
    return Attribution.TEST_SCRIPT


def _value_of(example: dict[str, Any], var: str) -> str | None:
    variables = example.get("variables", {})
    return str(variables[var]) if var in variables else None


def _shape_mismatch(stages: list[StageResult], op: str) -> Finding | None:
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
        producers = [s for s in _sources(stages, op, var) if s in result.operations and s != op]
        ok_producers = [s for s in producers if 1 - result.operations[s].error_rate >= PRODUCER_OK]
        if not ok_producers:
            continue
        shape, t = max(shapes.items(), key=lambda st: st[1].with_fail)
        if c.ratio(t.with_fail, failures) < ALL_FAIL_RATE:
            continue
        producer = ok_producers[0]
        failed_examples = c.examples(stages, op, c.is_failure)
        value = next((v for e in failed_examples if (v := _value_of(e, var))), None)
        stats = result.operations[producer]
        evidence = (
            Evidence(
                "fail_rate",
                f"`{op}` failed {failures:,}/{requests:,} ({c.pct(c.ratio(failures, requests))}): "
                f"{c.outcome_summary(outcomes, c.is_failure)}",
                c.ratio(failures, requests),
            ),
            Evidence(
                "producer",
                f"every failing request used `{var}` captured by `{producer}`, which succeeded "
                f"{c.pct(1 - stats.error_rate)} ({stats.ok:,}/{stats.count:,})",
                1 - stats.error_rate,
            ),
            Evidence(
                "captured_shape",
                f"captured values: shape `{shape}` in {t.with_fail:,}/{failures:,} failures"
                + (f" (e.g. {value})" if value else "")
                + "; no request with that shape succeeded",
                float(t.with_fail),
            ),
        )
        return Finding(
            kind=FindingClass.BROKEN_CHAIN,
            attribution=_attribution([producer]),
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
                f"compare a `{producer}` response with what `{op}` expects: the extractor of "
                f"`{var}` may point at the wrong field, or the service returns another id type"
            ),
            operation=op,
        )
    return None
