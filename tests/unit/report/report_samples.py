"""Hand-built RunResults for the report tests: real HDR histograms merged by RunAccumulator.

Latencies are fixed arithmetic sequences (no random numbers), so the reports built from these
results are byte-for-byte stable and can be compared with the golden files.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import encode_histogram, new_histogram, record_values
from loadlens.metrics.result import RunInfo, RunResult, StageInfo
from loadlens.model.verdict import GateResult, GateStatus, Verdict, VerdictKind

T0 = 1_760_950_800.0  # 2025-10-20 09:00:00 UTC

RUN = RunInfo(
    run_id="20251020-090000-users-crud",
    scenario="users-crud",
    source="scenarios/users-crud.yaml",
    source_sha256="3f" * 32,
    target="http://127.0.0.1:8000",
    command=["loadlens", "run", "scenarios/users-crud.yaml", "--workers", "2"],
    workers=2,
    hostname="loadgen-1",
    loadlens_version="0.1.0",
    python_version="3.11.7",
    started_at=T0,
    ended_at=T0 + 8.5,
)

STAGES = [
    StageInfo("smoke", 0, {"model": "closed", "users": 5, "start_users": 0}, 3.0, 0.0),
    StageInfo("load", 1, {"model": "open", "rate": 40.0}, 4.0, 1.0),
]


def latencies(base_ms: float, spread_ms: float, n: int, *, tail_ms: float = 0.0) -> list[int]:
    """n microsecond latencies spread evenly over [base, base + spread), one tail if given."""
    values = [int((base_ms + spread_ms * ((i * 37) % n) / n) * 1000) for i in range(n)]
    if tail_ms:
        values[-1] = int(tail_ms * 1000)
    return values


def op_frame(values: list[int], outcomes: dict[str, int]) -> OpFrame:
    h = new_histogram()
    record_values(h, np.array(values, dtype=np.int64))
    sent = sum(outcomes.values())
    return OpFrame(encode_histogram(h), outcomes, 120 * sent, 480 * len(values))


def _lateness() -> str:
    """A worker-second's dispatch lateness (µs): 100 arrivals 20-219 µs late, one 1.5 ms."""
    h = new_histogram()
    record_values(h, np.array([20 + 2 * i for i in range(99)] + [1500], dtype=np.int64))
    return encode_histogram(h)


def build(
    ops_per_second: dict[str, tuple[float, float, int, dict[str, int]]],
    *,
    stages: list[StageInfo],
    seconds: dict[int, int],
    complete: bool = True,
    interrupted: bool = False,
    slow_stage: int = -1,
) -> RunResult:
    """Two workers, each sending the same traffic every second of each stage in `seconds`.

    ops_per_second: name -> (base ms, spread ms, requests with a latency, extra outcomes); the
    requests with a latency count as `ok` unless the extra outcomes name status codes.
    """
    accumulator = RunAccumulator(list(ops_per_second), stages)
    offset = 0.0
    for stage in stages:
        ran_for = seconds.get(stage.index, 0)
        if ran_for:
            accumulator.mark_stage(
                stage.index, started_at=T0 + offset, ended_at=T0 + offset + ran_for
            )
        for second in range(ran_for):
            slow = 3.0 if stage.index == slow_stage else 1.0
            for worker in (0, 1):
                ops = {}
                for name, (base, spread, n, extra) in ops_per_second.items():
                    with_latency = n + sum(v for k, v in extra.items() if k.startswith("status"))
                    tail = base * 8 * slow if second == ran_for - 1 else 0.0
                    values = latencies(base * slow, spread * slow, with_latency, tail_ms=tail)
                    ops[name] = op_frame(values, {"ok": n, **extra} if n else dict(extra))
                accumulator.add(
                    Frame(
                        worker=worker,
                        stage=stage.index,
                        second=second,
                        time=T0 + offset + second + 1,
                        ops=ops,
                        health=Health(
                            cpu_percent=35.0 + 10 * worker + second,
                            loop_lag_ms=0.5 + second * 0.25,
                            in_flight=3,
                            users=5 if stage.load["model"] == "closed" else 0,
                            late=1 if stage.load["model"] == "open" else 0,
                            lateness_p99_ms=1.5 if stage.load["model"] == "open" else 0.0,
                        ),
                        final=second == ran_for - 1,
                        lateness=_lateness() if stage.load["model"] == "open" else "",
                    )
                )
        offset += stage.duration_s
    return accumulator.result(run=RUN, complete=complete, interrupted=interrupted)


def gate(
    text: str,
    stage: str,
    status: GateStatus,
    measured: float | None,
    samples: int,
    target: str,
    measured_text: str,
    **extra: object,
) -> GateResult:
    return GateResult(
        gate=text,
        stage=stage,
        status=status,
        measured=measured,
        samples=samples,
        target=target,
        measured_text=measured_text,
        **extra,  # type: ignore[arg-type]
    )


def clean_result() -> RunResult:
    """Every request succeeded; every gate passed; GO."""
    result = build(
        {"create": (4.0, 3.0, 6, {}), "read": (2.0, 1.5, 12, {}), "find": (6.0, 4.0, 4, {})},
        stages=STAGES,
        seconds={0: 3, 1: 4},
    )
    gates = [
        gate("error_rate < 1%", "smoke", GateStatus.PASSED, 0.0, 132, "< 1%", "0%"),
        gate("p95 < 50ms", "load", GateStatus.PASSED, 9.4, 176, "< 50ms", "9.4ms"),
        gate("p95{op:read} < 20ms", "load", GateStatus.PASSED, 3.4, 96, "< 20ms", "3.4ms"),
    ]
    verdict = Verdict(
        VerdictKind.GO,
        reasons=("every gate of every stage passed (3 of 3)",),
        gates=tuple(gates),
    )
    return dataclasses.replace(result, gates=gates, verdict=verdict)


def failing_result() -> RunResult:
    """Reads answer 404, some connections are refused, a chain breaks; NO-GO."""
    result = build(
        {
            "create": (5.0, 4.0, 6, {"capture_failed:id": 1}),
            "read": (3.0, 2.0, 0, {"status:404": 10, "missing_variable:id@create": 1}),
            "update": (7.0, 5.0, 4, {"error:connect_refused": 1, "status:500": 1}),
        },
        stages=STAGES,
        seconds={0: 3, 1: 4},
        slow_stage=1,
    )
    gates = [
        gate("error_rate < 1%", "smoke", GateStatus.FAILED, 0.5, 156, "< 1%", "50%"),
        gate(
            "p95 < 50ms",
            "load",
            GateStatus.FAILED,
            61.2,
            176,
            "< 50ms",
            "61.2ms",
            window_s=2.0,
            at_second=3,
        ),
        gate(
            "p99{op:update} < 100ms",
            "load",
            GateStatus.INSUFFICIENT,
            None,
            40,
            "< 100ms",
            "",
            required=100,
        ),
        gate("cache_hit_rate > 85%", "load", GateStatus.NOT_AVAILABLE, None, 0, "> 85%", ""),
    ]
    verdict = Verdict(
        VerdictKind.NO_GO,
        reasons=(
            "stage smoke failed error_rate < 1%: measured 50% over 156 requests",
            "stage load failed p95 < 50ms: measured 61.2ms over 176 latencies",
        ),
        gates=tuple(gates),
        failed_stage="smoke",
    )
    return dataclasses.replace(result, gates=gates, verdict=verdict)


def interrupted_result() -> RunResult:
    """Ctrl-C two seconds into the first of three stages: partial, not judged, no gates."""
    stages = [*STAGES, StageInfo("stress", 2, {"model": "open", "rate": 200.0}, 5.0, 0.0)]
    result = build(
        {"create": (4.0, 3.0, 5, {"cancelled": 1}), "read": (2.0, 1.5, 10, {})},
        stages=stages,
        seconds={0: 2},
        complete=False,
        interrupted=True,
    )
    run = dataclasses.replace(result.run, ended_at=None)
    return dataclasses.replace(result, run=run)


HOSTILE = "<script>alert(1)</script>"


def hostile_result() -> RunResult:
    """Names that would be markup if a renderer forgot to escape them."""
    result = build(
        {HOSTILE: (4.0, 3.0, 5, {"status:404": 1}), "ok & <b>bold</b>": (2.0, 1.0, 5, {})},
        stages=[StageInfo("<i>stage</i>", 0, {"model": "closed", "users": 1}, 2.0, 0.0)],
        seconds={0: 2},
    )
    run = dataclasses.replace(result.run, scenario='"><img src=x onerror=alert(1)>')
    verdict = Verdict(VerdictKind.INCONCLUSIVE, reasons=(f"operation {HOSTILE} was slow",))
    return dataclasses.replace(result, run=run, verdict=verdict)
