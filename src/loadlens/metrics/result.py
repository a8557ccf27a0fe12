"""The RunResult: everything a run measured, written as `result.json` (see docs/result-schema.md).

Analysis, reports and the store see a run only through this module, so its JSON form is a
contract: bump SCHEMA_VERSION on any change an older reader could not follow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadlens.errors import ResultError
from loadlens.metrics.diagnostics import OpDiagnostics
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.histogram import LatencySummary, decode_histogram, encode_histogram
from loadlens.metrics.lost_worker import LostWorker
from loadlens.metrics.placement import WorkerPlace
from loadlens.model.finding import Finding
from loadlens.model.integrity import InvariantResult, ReconciliationResult
from loadlens.model.observation import ObservationResult
from loadlens.model.outcome import is_success_key
from loadlens.model.verdict import GateResult, Verdict

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # v1 lacks `gates` and `verdict`; they read as none


@dataclass(frozen=True, slots=True)
class StageInfo:
    """A stage as planned: its name, position and load (`{"model": "closed", "users": 5}`)."""

    name: str
    index: int
    load: dict[str, Any]
    duration_s: float
    ramp_s: float

    @property
    def latency_origin(self) -> str:
        """ "scheduled" for open-model stages (each arrival sent at its scheduled time whatever
        the service does, timed from that send; the generator's lateness is measured apart),
        "actual" for closed ones (each user's next request waits for its last response)."""
        return "scheduled" if self.load.get("model") == "open" else "actual"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; `latency_origin` is derived, written for readers' sake."""
        return {
            "name": self.name,
            "index": self.index,
            "load": dict(self.load),
            "duration_s": self.duration_s,
            "ramp_s": self.ramp_s,
            "latency_origin": self.latency_origin,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageInfo:
        """The inverse of `to_dict`."""
        return cls(
            name=str(d["name"]),
            index=int(d["index"]),
            load=dict(d["load"]),
            duration_s=float(d["duration_s"]),
            ramp_s=float(d["ramp_s"]),
        )


@dataclass(slots=True)
class OpStats:
    """Every request of one operation (or of all) over a stage or a run."""

    count: int  # requests attempted, including those never sent
    ok: int
    outcomes: dict[str, int]  # outcome key -> count; sums to `count`
    bytes_sent: int
    bytes_received: int
    latency: LatencySummary  # of the requests that got a latency; its count says how many
    histogram: str  # the encoded HDR histogram behind `latency`
    # Bodies decoded for a check or capture, as decoded (their wire bytes: in bytes_received).
    bytes_decoded: int = 0

    @property
    def errors(self) -> int:
        """Requests whose outcome was not ok."""
        return self.count - self.ok

    @property
    def error_rate(self) -> float:
        """Non-ok requests as a fraction of all; 0 when there were none."""
        return self.errors / self.count if self.count else 0.0

    @classmethod
    def build(
        cls, outcomes: dict[str, int], sent: int, received: int, h: Any, decoded: int = 0
    ) -> OpStats:
        """OpStats from raw counters and a latency histogram."""
        ok = sum(n for key, n in outcomes.items() if is_success_key(key))
        return cls(
            count=sum(outcomes.values()),
            ok=ok,
            outcomes=dict(sorted(outcomes.items())),
            bytes_sent=sent,
            bytes_received=received,
            bytes_decoded=decoded,
            latency=LatencySummary.of(h),
            histogram=encode_histogram(h),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; `errors` and `error_rate` are derived, written for readers."""
        return {
            "count": self.count,
            "ok": self.ok,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "outcomes": dict(self.outcomes),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "bytes_decoded": self.bytes_decoded,
            "latency": self.latency.to_dict(),
            "histogram": self.histogram,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpStats:
        """The inverse of `to_dict`."""
        return cls(
            count=int(d["count"]),
            ok=int(d["ok"]),
            outcomes={str(k): int(v) for k, v in d["outcomes"].items()},
            bytes_sent=int(d["bytes_sent"]),
            bytes_received=int(d["bytes_received"]),
            bytes_decoded=int(d.get("bytes_decoded", 0)),  # absent from older results
            latency=LatencySummary.from_dict(d["latency"]),
            histogram=str(d["histogram"]),
        )

    def decoded_histogram(self) -> Any:
        """The latency histogram itself, for merging or other percentiles."""
        return decode_histogram(self.histogram)


@dataclass(slots=True)
class SeriesOp:
    """One operation (or all) in one second, merged across workers; latencies in ms."""

    count: int = 0
    ok: int = 0
    errors: int = 0
    samples: int = 0  # requests with a latency: the sample count behind p50/p95/p99
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "count": self.count,
            "ok": self.ok,
            "errors": self.errors,
            "samples": self.samples,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeriesOp:
        """The inverse of `to_dict`."""
        return cls(
            count=int(d["count"]),
            ok=int(d["ok"]),
            errors=int(d["errors"]),
            samples=int(d["samples"]),
            p50=float(d["p50"]),
            p95=float(d["p95"]),
            p99=float(d["p99"]),
        )


@dataclass(slots=True)
class SeriesPoint:
    """One second of one stage, merged across workers."""

    stage: int
    second: int
    time: float  # the latest wall-clock time among the merged frames
    workers: int  # how many frames were merged
    ops: dict[str, SeriesOp]
    total: SeriesOp
    health: Health  # cpu, in_flight, users, late, dropped summed; lag and lateness the max

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "stage": self.stage,
            "second": self.second,
            "time": self.time,
            "workers": self.workers,
            "ops": {name: op.to_dict() for name, op in self.ops.items()},
            "total": self.total.to_dict(),
            "health": self.health.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeriesPoint:
        """The inverse of `to_dict`."""
        return cls(
            stage=int(d["stage"]),
            second=int(d["second"]),
            time=float(d["time"]),
            workers=int(d["workers"]),
            ops={str(k): SeriesOp.from_dict(v) for k, v in d["ops"].items()},
            total=SeriesOp.from_dict(d["total"]),
            health=Health.from_dict(d["health"]),
        )


@dataclass(frozen=True, slots=True)
class HealthSummary:
    """How the generator fared over the whole run."""

    max_cpu_percent: float = 0.0  # the busiest single worker in any second
    max_loop_lag_ms: float = 0.0
    late: int = 0
    dropped: int = 0
    max_lateness_p99_ms: float = 0.0
    # Open model: every dispatched arrival's lateness over the run (ms); None without arrivals.
    lateness: LatencySummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "max_cpu_percent": self.max_cpu_percent,
            "max_loop_lag_ms": self.max_loop_lag_ms,
            "late": self.late,
            "dropped": self.dropped,
            "max_lateness_p99_ms": self.max_lateness_p99_ms,
            "lateness": None if self.lateness is None else self.lateness.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HealthSummary:
        """The inverse of `to_dict`."""
        return cls(
            max_cpu_percent=float(d["max_cpu_percent"]),
            max_loop_lag_ms=float(d["max_loop_lag_ms"]),
            late=int(d["late"]),
            dropped=int(d["dropped"]),
            max_lateness_p99_ms=float(d["max_lateness_p99_ms"]),
            lateness=None if d.get("lateness") is None else LatencySummary.from_dict(d["lateness"]),
        )


@dataclass(slots=True)
class StageResult:
    """One stage: whether it ran, when, and its requests per operation and in total."""

    info: StageInfo
    ran: bool
    started_at: float | None
    ended_at: float | None
    operations: dict[str, OpStats]
    total: OpStats
    # per operation: features, error templates, samples, phases (see metrics/diagnostics.py)
    diagnostics: dict[str, OpDiagnostics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "info": self.info.to_dict(),
            "ran": self.ran,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "operations": {name: op.to_dict() for name, op in self.operations.items()},
            "total": self.total.to_dict(),
            "diagnostics": {name: d.to_dict() for name, d in self.diagnostics.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageResult:
        """The inverse of `to_dict`."""
        return cls(
            info=StageInfo.from_dict(d["info"]),
            ran=bool(d["ran"]),
            started_at=_optional_float(d["started_at"]),
            ended_at=_optional_float(d["ended_at"]),
            operations={str(k): OpStats.from_dict(v) for k, v in d["operations"].items()},
            total=OpStats.from_dict(d["total"]),
            diagnostics={
                str(k): OpDiagnostics.from_dict(v) for k, v in d.get("diagnostics", {}).items()
            },
        )


@dataclass(slots=True)
class RunInfo:
    """What ran, against what, from where; the command line is already redacted."""

    run_id: str
    scenario: str
    source: str
    source_sha256: str
    target: str
    command: list[str]
    workers: int
    hostname: str
    loadlens_version: str
    python_version: str
    started_at: float
    ended_at: float | None = None
    hot_path: str = "interpreted"  # or "compiled (mypyc)": how the per-request code ran
    cluster: str | None = None  # a cluster run: the cluster (e.g. "ray://10.0.0.5:10001")
    places: list[WorkerPlace] = field(default_factory=list)  # a cluster run: each worker's node

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (a local run's has no `cluster` nor `places`)."""
        cluster: dict[str, Any] = {}
        if self.cluster is not None:
            cluster = {"cluster": self.cluster, "places": [p.to_dict() for p in self.places]}
        return {
            "run_id": self.run_id,
            "scenario": self.scenario,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "target": self.target,
            "command": list(self.command),
            "workers": self.workers,
            "hostname": self.hostname,
            "loadlens_version": self.loadlens_version,
            "python_version": self.python_version,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "hot_path": self.hot_path,
            **cluster,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInfo:
        """The inverse of `to_dict`."""
        return cls(
            run_id=str(d["run_id"]),
            scenario=str(d["scenario"]),
            source=str(d["source"]),
            source_sha256=str(d["source_sha256"]),
            target=str(d["target"]),
            command=[str(part) for part in d["command"]],
            workers=int(d["workers"]),
            hostname=str(d["hostname"]),
            loadlens_version=str(d["loadlens_version"]),
            python_version=str(d["python_version"]),
            started_at=float(d["started_at"]),
            ended_at=_optional_float(d["ended_at"]),
            hot_path=str(d.get("hot_path", "unknown")),  # results written before it was recorded
            cluster=None if d.get("cluster") is None else str(d["cluster"]),
            places=[WorkerPlace.from_dict(p) for p in d.get("places", [])],
        )


@dataclass(slots=True)
class RunResult:
    """A whole run: per stage, per operation, in total, second by second, and the generator."""

    run: RunInfo
    complete: bool  # every planned stage ran to its end
    interrupted: bool  # stopped by the user (Ctrl-C) or a signal
    stages: list[StageResult]
    operations: dict[str, OpStats]  # across all stages
    total: OpStats
    series: list[SeriesPoint]
    health: HealthSummary = field(default_factory=HealthSummary)
    gates: list[GateResult] = field(default_factory=list)  # every gate judged, stage by stage
    verdict: Verdict | None = None  # None until the run is judged
    observation: ObservationResult | None = None  # the service, watched while the run went
    invariants: list[InvariantResult] = field(default_factory=list)  # after stages and at the end
    reconciliation: ReconciliationResult | None = None  # acknowledged writes vs the database
    findings: list[Finding] = field(default_factory=list)  # why requests failed or got slow
    interrupted_by: str | None = None  # the signal that stopped the run: SIGINT, SIGTERM, SIGHUP
    lost_workers: list[LostWorker] = field(default_factory=list)  # ended before their stage
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: the content of result.json."""
        return {
            "schema_version": self.schema_version,
            "run": self.run.to_dict(),
            "complete": self.complete,
            "interrupted": self.interrupted,
            "stages": [stage.to_dict() for stage in self.stages],
            "operations": {name: op.to_dict() for name, op in self.operations.items()},
            "total": self.total.to_dict(),
            "series": [point.to_dict() for point in self.series],
            "health": self.health.to_dict(),
            "gates": [gate.to_dict() for gate in self.gates],
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
            "observation": None if self.observation is None else self.observation.to_dict(),
            "invariants": [invariant.to_dict() for invariant in self.invariants],
            "reconciliation": None
            if self.reconciliation is None
            else self.reconciliation.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
            "interrupted_by": self.interrupted_by,
            "lost_workers": [lost.to_dict() for lost in self.lost_workers],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        """The inverse of `to_dict`; an unknown schema version is a ResultError."""
        version = d.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ResultError(
                f"result schema version {version!r} is not supported (expected {SCHEMA_VERSION})",
                hint="read it with the loadlens version that wrote it",
            )
        return cls(
            run=RunInfo.from_dict(d["run"]),
            complete=bool(d["complete"]),
            interrupted=bool(d["interrupted"]),
            stages=[StageResult.from_dict(s) for s in d["stages"]],
            operations={str(k): OpStats.from_dict(v) for k, v in d["operations"].items()},
            total=OpStats.from_dict(d["total"]),
            series=[SeriesPoint.from_dict(p) for p in d["series"]],
            health=HealthSummary.from_dict(d["health"]),
            gates=[GateResult.from_dict(g) for g in d.get("gates", [])],
            verdict=None if d.get("verdict") is None else Verdict.from_dict(d["verdict"]),
            observation=None
            if d.get("observation") is None
            else ObservationResult.from_dict(d["observation"]),
            invariants=[InvariantResult.from_dict(i) for i in d.get("invariants", [])],
            reconciliation=None
            if d.get("reconciliation") is None
            else ReconciliationResult.from_dict(d["reconciliation"]),
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            interrupted_by=None if d.get("interrupted_by") is None else str(d["interrupted_by"]),
            lost_workers=[LostWorker.from_dict(w) for w in d.get("lost_workers", [])],
            schema_version=SCHEMA_VERSION,
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def write_result(result: RunResult, path: Path) -> None:
    """Write result.json atomically: a reader sees the old file or the new one, never half."""
    text = json.dumps(result.to_dict(), indent=1, sort_keys=True, allow_nan=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_result(path: Path) -> RunResult:
    """Read result.json; anything missing, unreadable or malformed is a ResultError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultError(
            f"no result file at {path}", hint="pass a run directory that has result.json"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultError(f"cannot read result file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="the file may be truncated; rebuild it from frames.jsonl",
        ) from None
    if not isinstance(data, dict):
        raise ResultError(f"{path} does not hold a result object")
    try:
        return RunResult.from_dict(data)
    except ResultError as exc:
        raise ResultError(f"{path}: {exc.message}", hint=exc.hint) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultError(f"{path} is not a loadlens result: bad or missing field {exc}") from None


def read_frames(frames_path: Path) -> list[Frame]:
    """The frames of frames.jsonl; a truncated last line (a crash mid-write) is skipped."""
    try:
        lines = frames_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ResultError(f"cannot read frames file {frames_path}: {exc}") from None
    frames: list[Frame] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            frames.append(Frame.from_json_line(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if number == len(lines):
                break  # the line being written when the run died
            raise ResultError(f"{frames_path}:{number}: not a frame ({exc})") from None
    return frames


def rebuild_from_frames(frames_path: Path, run: RunInfo, stages: Sequence[StageInfo]) -> RunResult:
    """Replay frames.jsonl into a result marked incomplete: the crash-recovery path."""
    from loadlens.metrics.accumulate import RunAccumulator

    frames = read_frames(frames_path)
    operations: dict[str, None] = {}
    for frame in frames:
        operations.update(dict.fromkeys(frame.ops))
    accumulator = RunAccumulator(list(operations), stages)
    for frame in frames:
        accumulator.add(frame)
    return accumulator.result(run=run, complete=False)
