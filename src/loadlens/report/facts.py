"""The numbers and sentences of a written report, computed once for Markdown and HTML alike.

How it works: `report_facts` reads a RunResult and returns a `ReportFacts`: a title, the
verdict, and an ordered list of `Section`s, each made of plain sentences, bullets and at most
one `Table` whose cells are already formatted text. The renderers only lay these out, so a
number is formatted in one place and reads the same in every file. Text may hold `code`
spans in backticks (operation names, outcome details); renderers escape everything else.

Everything derives from the result alone (no clock, no host), so a given result always gives
the same report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from loadlens.metrics.result import OpStats, RunResult, StageResult
from loadlens.model.outcome import is_success_key
from loadlens.model.verdict import GateResult, GateStatus, VerdictKind
from loadlens.report.outcomes import describe_outcome

NONE_RECORDED = "None recorded."


@dataclass(frozen=True, slots=True)
class Table:
    """Formatted cells; `numeric` columns align right; `row_classes` tag rows (gate status)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    row_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    """One titled part of the report; `key` is stable (anchors, tests, chart placement)."""

    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    table: Table | None = None
    notes: tuple[str, ...] = ()  # sentences after the table


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """Everything a written report says, in order."""

    title: str
    verdict_kind: VerdictKind | None
    verdict_label: str  # `GO`, `NO-GO`, `INCONCLUSIVE` or `NO VERDICT`
    state: str  # `complete`, `INCOMPLETE`, `INCOMPLETE (interrupted)`
    headline: str  # one sentence under the verdict
    sections: list[Section] = field(default_factory=list)


# -- formatting: every number in a report goes through one of these -------------------------


def fmt_count(n: int) -> str:
    """`12,345`."""
    return f"{n:,}"


def fmt_ms(value: float) -> str:
    """A latency in milliseconds, unit left to the column header: `1,234.57`."""
    return f"{value:,.2f}"


def fmt_ms_unit(value: float) -> str:
    """A latency in running text: `1,234.57 ms`."""
    return f"{fmt_ms(value)} ms"


def fmt_number(value: float) -> str:
    """An observed value of any unit: whole above 100 (`140,000,000`), else 3 digits (`0.912`)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def fmt_percent(fraction: float) -> str:
    """A fraction as a percentage: `49.67 %`."""
    return f"{100 * fraction:.2f} %"


def fmt_rate(per_second: float) -> str:
    """Requests per second, unit left to the header: `116.6`."""
    return f"{per_second:,.1f}"


def fmt_seconds(seconds: float) -> str:
    """A duration: `30.0 s`."""
    return f"{seconds:,.1f} s"


def fmt_utc(timestamp: float | None) -> str:
    """UNIX seconds as `2025-10-20 12:00:00 UTC`; `unknown` for None."""
    if timestamp is None:
        return "unknown"
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def code(text: str) -> str:
    """`text` as a code span (backticks inside it would end the span, so they go)."""
    cleaned = text.replace("`", "'")
    return f"`{cleaned}`"


# -- derived numbers -----------------------------------------------------------------------


def run_duration(result: RunResult) -> float:
    """Seconds from the first stage's start to the last one's end (0 if nothing ran)."""
    starts = [s.started_at for s in result.stages if s.ran and s.started_at is not None]
    ends = [s.ended_at for s in result.stages if s.ran and s.ended_at is not None]
    if not starts or not ends:
        return 0.0
    return max(max(ends) - min(starts), 0.0)


def stage_rate(stage: StageResult) -> float:
    """Requests per second over the stage's span (0 when it did not run)."""
    if not stage.ran or stage.started_at is None or stage.ended_at is None:
        return 0.0
    span = stage.ended_at - stage.started_at
    return stage.total.count / span if span > 0 else 0.0


def describe_load(stage: StageResult) -> str:
    """`5 users, 30s`, `100/s, ramp 10s, 2m` or, counted, `4 users, 400 iterations in ≤ 600s`."""
    load = stage.info.load
    model = load.get("model")
    ramp = f", ramp {stage.info.ramp_s:g}s" if stage.info.ramp_s else ""
    length = f"{stage.info.duration_s:g}s"
    if "iterations" in load:
        length = f"{load['iterations']:,} iterations in ≤ {length}"
    elif "per_user" in load:
        length = f"{load['per_user']:,} iterations per user in ≤ {length}"
    if model == "closed":
        return f"{load.get('users', '?')} users{ramp}, {length}"
    if model == "open":
        return f"{float(load.get('rate', 0.0)):g}/s{ramp}, {length}"
    return str(model)


def gates_of(result: RunResult) -> list[GateResult]:
    """The gates judged: the result's own list, else those the verdict carries."""
    if result.gates:
        return list(result.gates)
    return list(result.verdict.gates) if result.verdict is not None else []


def run_state(result: RunResult) -> str:
    """`complete`, `INCOMPLETE` or `INCOMPLETE (interrupted)`."""
    if result.interrupted:
        return "INCOMPLETE (interrupted)"
    return "complete" if result.complete else "INCOMPLETE"


def worst_failure(stats: OpStats) -> tuple[str, int] | None:
    """The most frequent non-success outcome of an operation and its count."""
    failures = [(key, n) for key, n in stats.outcomes.items() if not is_success_key(key) and n]
    if not failures:
        return None
    return max(failures, key=lambda kv: (kv[1], kv[0]))


GATE_STATUS_TEXT = {
    GateStatus.PASSED: "pass",
    GateStatus.FAILED: "FAIL",
    GateStatus.INSUFFICIENT: "insufficient data",
    GateStatus.UNCERTAIN: "uncertain (generator bound)",
    GateStatus.NOT_AVAILABLE: "not measured",
}


def gate_measured(gate: GateResult) -> str:
    """The measured value as the gate's unit writes it; `n/a` when nothing was measured."""
    if gate.measured is None:
        return "n/a"
    return gate.measured_text or f"{gate.measured:g}"


def gate_samples(gate: GateResult) -> str:
    """`1,234` or, when too few, `12 of 100 needed`."""
    if gate.status is GateStatus.INSUFFICIENT and gate.required > gate.samples:
        return f"{fmt_count(gate.samples)} of {fmt_count(gate.required)} needed"
    return fmt_count(gate.samples)


def gate_window(gate: GateResult) -> str:
    """`whole stage` or `worst 10s window (to second 42)`."""
    if gate.window_s is None:
        return "whole stage"
    at = f" (to second {gate.at_second})" if gate.at_second is not None else ""
    return f"worst {gate.window_s:g}s window{at}"


# -- the report ------------------------------------------------------------------------------


def report_facts(result: RunResult) -> ReportFacts:
    """Every section of the written report, formatted."""
    from loadlens.report import facts_service  # it builds on this module's types

    verdict = result.verdict
    kind = verdict.kind if verdict is not None else None
    label = kind.label if kind is not None else "NO VERDICT"
    return ReportFacts(
        title=f"Load test report: {result.run.scenario}",
        verdict_kind=kind,
        verdict_label=label,
        state=run_state(result),
        headline=_headline(result),
        sections=[
            _summary(result),
            _gates(result),
            _operations(result),
            _outcomes(result),
            _findings(result),
            _stages(result),
            _health(result),
            facts_service.observations(result),
            facts_service.integrity(result),
            _provenance(result),
        ],
    )


def _headline(result: RunResult) -> str:
    run = result.run
    verdict = result.verdict
    judged = f"Verdict {verdict.kind.label}" if verdict is not None else "No verdict (not judged)"
    return f"{judged}; run {code(run.run_id)} against {code(run.target)} is {run_state(result)}."


def _summary(result: RunResult) -> Section:
    total = result.total
    duration = run_duration(result)
    rate = total.count / duration if duration > 0 else 0.0
    sentences = [
        f"The run made {fmt_count(total.count)} requests in {fmt_seconds(duration)} "
        f"({fmt_rate(rate)} req/s); {fmt_count(total.errors)} of them failed "
        f"({fmt_percent(total.error_rate)}).",
        _completion_sentence(result),
    ]
    worst = _worst_operation_sentence(result)
    if worst:
        sentences.append(worst)
    progression = _progression_sentence(result)
    if progression:
        sentences.append(progression)
    verdict = result.verdict
    bullets: tuple[str, ...] = ()
    if verdict is None:
        sentences.append("No verdict: the run was not judged.")
    else:
        sentences.append(f"The verdict is {verdict.kind.label}, because:")
        bullets = verdict.reasons or ("no reason was recorded.",)
    return Section("summary", "Executive summary", paragraphs=tuple(sentences), bullets=bullets)


_PHASES = ("setup", "teardown")  # what the engine names its setup and teardown "stages"


def _completion_sentence(result: RunResult) -> str:
    # Setup and teardown are listed as stages but are not the plan's: count the plan alone.
    planned = [s for s in result.stages if s.info.load.get("model") not in _PHASES]
    not_run = [s.info.name for s in planned if not s.ran]
    skipped = f" Stages not run: {', '.join(code(n) for n in not_run)}." if not_run else ""
    if result.interrupted:
        return f"The run was interrupted before its plan ended; its numbers are partial.{skipped}"
    if not result.complete:
        return f"The run did not complete its plan; its numbers are partial.{skipped}"
    if not_run:
        ran = len(planned) - len(not_run)
        return f"The plan stopped early: {ran} of {len(planned)} planned stages ran.{skipped}"
    return f"Every planned stage ran to its end ({len(planned)} of {len(planned)})."


def _worst_operation_sentence(result: RunResult) -> str:
    ops = [(name, s) for name, s in result.operations.items() if s.count]
    if not ops:
        return ""
    failing = [(name, s) for name, s in ops if s.errors]
    if failing:
        name, stats = max(failing, key=lambda kv: (kv[1].error_rate, kv[1].errors))
        failure = worst_failure(stats)
        mostly = f", mostly {describe_outcome(failure[0])}" if failure else ""
        return (
            f"The worst operation is {code(name)}: {fmt_count(stats.errors)} of its "
            f"{fmt_count(stats.count)} requests failed ({fmt_percent(stats.error_rate)}{mostly})."
        )
    name, stats = max(ops, key=lambda kv: kv[1].latency.p95)
    return (
        f"No request failed; the slowest operation is {code(name)} with p95 "
        f"{fmt_ms_unit(stats.latency.p95)} over {fmt_count(stats.latency.count)} samples."
    )


def _progression_sentence(result: RunResult) -> str:
    if not result.stages:
        return ""
    parts = []
    for stage in result.stages:
        if not stage.ran:
            parts.append(f"{code(stage.info.name)} not run")
            continue
        parts.append(
            f"{code(stage.info.name)} ({describe_load(stage)}): {fmt_rate(stage_rate(stage))} "
            f"req/s, p95 {fmt_ms_unit(stage.total.latency.p95)}, "
            f"{fmt_percent(stage.total.error_rate)} failed"
        )
    return "Stage by stage: " + " → ".join(parts) + "."


def _gates(result: RunResult) -> Section:
    gates = gates_of(result)
    if not gates:
        return Section("gates", "Gates", paragraphs=("No gates were defined or judged.",))
    rows = tuple(
        (
            gate.stage,
            gate.gate + (" (default)" if gate.default else ""),
            gate.target,
            gate_measured(gate),
            gate_samples(gate),
            gate_window(gate),
            GATE_STATUS_TEXT[gate.status],
        )
        for gate in gates
    )
    failed = sum(1 for g in gates if g.status is GateStatus.FAILED)
    passed = sum(1 for g in gates if g.status is GateStatus.PASSED)
    undecided = len(gates) - failed - passed
    note = (
        f"{passed} passed, {failed} failed, {undecided} could not be judged "
        f"(of {len(gates)}). Samples are latencies for percentile gates, requests for rates."
    )
    notes = [note]
    if any(g.default for g in gates):
        notes.append(
            "The plan defined no gates, so the default gates were judged (docs/thresholds.md)."
        )
    notes.extend(
        f"`{g.stage}` {g.gate}: measured {gate_measured(g)} ± {fmt_ms_unit(g.bound_ms)}, "
        f"which straddles {g.target}: {g.bound_cause}."
        for g in gates
        if g.status is GateStatus.UNCERTAIN
    )
    table = Table(
        columns=("stage", "gate", "target", "measured", "samples", "judged over", "status"),
        rows=rows,
        numeric=(False, False, False, True, True, False, False),
        row_classes=tuple(gate.status.value for gate in gates),
    )
    return Section("gates", "Gates", table=table, notes=tuple(notes))


def _op_row(name: str, stats: OpStats) -> tuple[str, ...]:
    latency = stats.latency
    success = fmt_percent(1.0 - stats.error_rate) if stats.count else "n/a"
    return (
        name,
        fmt_count(stats.count),
        success,
        fmt_ms(latency.mean),
        fmt_ms(latency.p50),
        fmt_ms(latency.p95),
        fmt_ms(latency.p99),
        fmt_ms(latency.max),
        fmt_count(latency.count),
    )


def _operations(result: RunResult) -> Section:
    rows = [_op_row(name, stats) for name, stats in result.operations.items()]
    if len(result.operations) != 1:
        rows.append(_op_row("all operations", result.total))
    table = Table(
        columns=("operation", "count", "success", "avg", "p50", "p95", "p99", "max", "samples"),
        rows=tuple(rows),
        numeric=(False, *([True] * 8)),
    )
    note = (
        "Latencies in milliseconds over all stages; `samples` is the number of requests with "
        "a latency behind every percentile (requests never sent have none)."
    )
    return Section("operations", "Operations", table=table, notes=(note,))


def _outcomes(result: RunResult) -> Section:
    total = result.total
    paragraph = (
        f"{fmt_count(total.ok)} requests succeeded ({fmt_percent(1.0 - total.error_rate)}) and "
        f"{fmt_count(total.errors)} failed ({fmt_percent(total.error_rate)}); "
        f"{fmt_bytes(total.bytes_sent)} sent, {fmt_bytes(total.bytes_received)} received."
        if total.count
        else "No request was made."
    )
    rows: list[tuple[str, ...]] = []
    for name, stats in result.operations.items():
        for key, count in sorted(stats.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
            share = count / stats.count if stats.count else 0.0
            verdict = "success" if is_success_key(key) else "failure"
            rows.append(
                (name, describe_outcome(key), verdict, fmt_count(count), fmt_percent(share))
            )
    table = (
        Table(
            columns=("operation", "outcome", "counts as", "count", "share of operation"),
            rows=tuple(rows),
            numeric=(False, False, False, True, True),
        )
        if rows
        else None
    )
    return Section("outcomes", "HTTP statuses and errors", paragraphs=(paragraph,), table=table)


def _findings(result: RunResult) -> Section:
    if not result.findings:
        return Section("findings", "Findings", paragraphs=(NONE_RECORDED,))
    paragraphs = []
    for number, finding in enumerate(result.findings, start=1):
        parts = [
            f"{number}. [{finding.severity.value}] {finding.headline} (attribution "
            f"{finding.attribution.label})."  # no confidence: not calibrated (docs/diagnosis.md)
        ]
        if finding.evidence:
            parts.append("Evidence: " + "; ".join(e.text for e in finding.evidence) + ".")
        if finding.counter_evidence:
            parts.append("Ruled out: " + "; ".join(e.text for e in finding.counter_evidence) + ".")
        if finding.advice:
            parts.append(f"Advice: {finding.advice}.")
        paragraphs.append(" ".join(parts))
    note = (
        "Findings explain why requests failed or got slow; each states its statistics and "
        "what was tested and ruled out (docs/diagnosis.md)."
    )
    return Section("findings", "Findings", paragraphs=tuple(paragraphs), notes=(note,))


def _stages(result: RunResult) -> Section:
    rows = []
    for stage in result.stages:
        latency = stage.total.latency
        ran = stage.ran
        rows.append(
            (
                stage.info.name,
                describe_load(stage),
                f"{stage.info.latency_origin} send",
                fmt_count(stage.total.count) if ran else "not run",
                fmt_rate(stage_rate(stage)) if ran else "–",
                fmt_percent(stage.total.error_rate) if ran else "–",
                fmt_ms(latency.p50) if ran else "–",
                fmt_ms(latency.p95) if ran else "–",
                fmt_ms(latency.p99) if ran else "–",
            )
        )
    table = Table(
        columns=(
            "stage",
            "load",
            "latency from",
            "requests",
            "req/s",
            "failed",
            "p50",
            "p95",
            "p99",
        ),
        rows=tuple(rows),
        numeric=(False, False, False, True, True, True, True, True, True),
    )
    note = (
        "Latencies in milliseconds, from each request's send. Open-model stages (arrival rate) "
        "send every arrival at its scheduled time whatever the service does, so a slow service "
        "cannot slow the load down and hide (no coordinated omission); how late the generator "
        "sent each arrival is its dispatch lateness, under Generator health. Closed-model "
        "stages (users) send a user's next request when its last response is in."
    )
    return Section("stages", "Stage by stage", table=table, notes=(note,))


def _health(result: RunResult) -> Section:
    health = result.health
    rows: tuple[tuple[str, str], ...] = (
        ("max CPU of a worker", f"{health.max_cpu_percent:.0f} % of a core"),
        ("max event-loop lag", fmt_ms_unit(health.max_loop_lag_ms)),
        ("late iterations", fmt_count(health.late)),
        ("dropped iterations", fmt_count(health.dropped)),
        ("max dispatch lateness p99", fmt_ms_unit(health.max_lateness_p99_ms)),
    )
    lateness = health.lateness
    if lateness is not None:
        rows += (
            (
                "dispatch lateness p50 / p99 / max",
                " / ".join(fmt_ms_unit(v) for v in (lateness.p50, lateness.p99, lateness.max)),
            ),
        )
    table = Table(columns=("measure", "value"), rows=rows, numeric=(False, True))
    note = (
        "Late iterations started more than 2 ms after their intended time; dropped ones were "
        "never started because too many were in flight. Dispatch lateness is how long after "
        "its intended time each arrival was sent (the max p99 is the worst single second's). "
        "All of these count only in open-model stages."
    )
    return Section("health", "Generator health", table=table, notes=(note,))


def _provenance(result: RunResult) -> Section:
    run = result.run
    rows = (
        ("command", " ".join(run.command)),
        ("scenario", f"{run.scenario} ({run.source})"),
        ("scenario sha256", run.source_sha256),
        ("target", run.target),
        ("loadlens", run.loadlens_version),
        ("Python", run.python_version),
        ("hot path", run.hot_path),
        ("host", run.hostname),
        ("workers", fmt_count(run.workers)),
        ("run id", run.run_id),
        ("started", fmt_utc(run.started_at)),
        ("ended", fmt_utc(run.ended_at)),
        ("result schema", f"version {result.schema_version}"),
        *_cluster_rows(result),
    )
    table = Table(columns=("what", "value"), rows=rows, numeric=(False, False))
    return Section(
        "provenance",
        "How this run was made",
        paragraphs=("Repeat it with the same command, scenario file (same sha256) and versions.",),
        table=table,
    )


def _cluster_rows(result: RunResult) -> tuple[tuple[str, str], ...]:
    """A cluster run's nodes, each worker's place and clock, and the workers it lost."""
    run = result.run
    if run.cluster is None:
        return ()
    rows = [("cluster", run.cluster)]
    rows += [
        (
            f"worker {place.worker}",
            f"{place.host}, node {place.node[:12]}, pid {place.pid}, clock "
            f"{place.clock_offset_ms:+.3f} ms ± {place.clock_uncertainty_ms:.3f} ms",
        )
        for place in run.places
    ]
    rows += [
        (
            f"worker {lost.worker} lost",
            f"{lost.lost_after_s:.1f} s into `{lost.stage_name}`: {lost.cause}; reported "
            f"{lost.reported:,}, at least {lost.unreported:,} unreported; "
            f"{lost.shortfall:.0%} of the stage's load not sent",
        )
        for lost in result.lost_workers
    ]
    return tuple(rows)


def fmt_bytes(count: int) -> str:
    """`512 B`, `1.5 MiB`."""
    if count < 1024:
        return f"{fmt_count(count)} B"
    size = float(count)
    unit = "B"
    for unit in ("KiB", "MiB", "GiB"):  # noqa: B007 - the last unit reached is the one used
        size /= 1024
        if size < 1024:
            break
    return f"{size:,.1f} {unit}"
