"""What the live web dashboard shows, read from the coordinator's merge once a second.

How it works. `DashboardState` is a RunListener like `Snapshots`: the coordinator calls it from
its own loop, and at most once a second (and at each stage's start and end) it reads the
RunAccumulator and the judge's live gates there, in the coordinator's thread, and turns them
into one JSON text: the current stage and its progress, the whole plan with an ETA, the totals
and each operation (rate now, percentiles and errors so far), the errors by outcome, the load
(users or rate) and each gate's state. The text is swapped in with a sequence number under a
lock; the dashboard's server thread reads only the last text and its number, so it can neither
race the merge of frames nor slow it: the coordinator pays one `json.dumps` a second.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from loadlens.metrics.accumulate import LiveOp, RunAccumulator
from loadlens.metrics.result import StageInfo
from loadlens.model.outcome import is_success_key
from loadlens.model.verdict import GateResult
from loadlens.outputs.snapshot import RunLabels

_PUBLISH_EVERY_S = 1.0  # frames arrive once a second: reading more often shows nothing new
_PHASES = ("setup", "teardown")  # the engine's names for setup and teardown "stages"
_HISTORY_POINTS = 600  # ten minutes of charts for a page opened late, about 25 kB of JSON

_NOTHING_YET: dict[str, Any] = {"stage": None, "total": None, "ops": [], "errors": {}, "gates": []}

LiveGates = Callable[[int], Sequence[GateResult]]  # stage index -> its gates judged so far


@dataclass(frozen=True, slots=True)
class PlannedStage:
    """One stage of the plan as the dashboard lists it before it runs."""

    name: str
    length_s: float  # ramp plus hold (a time limit for a stage counted in iterations)
    counted: bool = False  # the stage runs a number of iterations: it may end sooner


@dataclass(frozen=True, slots=True)
class Published:
    """The last state: its sequence number (1 for the first) and its JSON text."""

    seq: int
    text: str
    final: bool  # the reports are written: nothing will follow


class DashboardState:
    """A RunListener that keeps the dashboard's last state, as JSON, for another thread."""

    def __init__(
        self,
        run: RunLabels,
        plan: Sequence[PlannedStage],
        *,
        gates: LiveGates | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run = run
        self.plan = tuple(plan)
        self.gates = gates
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._published = Published(0, "{}", final=False)
        # the charts' points so far: [run second, rps, p50, p95, p99] (any thread, locked)
        self._history: deque[tuple[float, ...]] = deque(maxlen=_HISTORY_POINTS)
        self._last = float("-inf")
        # coordinator thread only, from here on
        self._current: StageInfo | None = None
        self._body: dict[str, Any] = dict(_NOTHING_YET)
        self._done: set[str] = set()
        self._elapsed = 0.0  # the current stage's, at the last tick
        self._report: str | None = None

    def published(self) -> Published:
        """The state as last published (any thread)."""
        with self._lock:
            return self._published

    def history(self) -> str:
        """The charts' points so far, as JSON (any thread): a page opened late draws them."""
        with self._lock:
            points = list(self._history)
        return json.dumps(points, separators=(",", ":"))

    def stage_started(self, info: StageInfo) -> None:
        self._current = info
        self._elapsed = 0.0
        self._body = self._read(info, 0.0, None)
        self.publish()

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        now = self._clock()
        if now - self._last < _PUBLISH_EVERY_S:
            return
        self._last = now
        self._elapsed = elapsed
        self._body = self._read(info, elapsed, accumulator)
        total = self._body["total"]
        if total is not None:
            point = (round(now - self._started, 1), total["rps"], total["p50_ms"],
                     total["p95_ms"], total["p99_ms"])  # fmt: skip
            with self._lock:
                self._history.append(point)
        self.publish()

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        self._done.add(info.name)
        # a stage counted in iterations ends before its time limit: keep the time it took
        counted = any(stage.counted for stage in self.plan if stage.name == info.name)
        elapsed = self._elapsed if counted else info.duration_s + info.ramp_s
        self._body = self._read(info, elapsed, accumulator, running=False)
        self.publish()

    def report_written(self, report: str | None) -> None:
        """The reports are written: the last state, with where report.html is (None: not
        written); nothing is published after it."""
        self._report = report
        self.publish(final=True)

    def publish(self, *, final: bool = False) -> None:
        """Make what was read the state served, with the next sequence number."""
        state = {
            "run": {
                "id": self.run.run_id() or "",
                "scenario": self.run.scenario,
                "target": self.run.target,
                "elapsed_s": round(self._clock() - self._started, 1),
            },
            "plan": self._plan(),
            **self._body,
            "finished": final,
            # served at /report while the dashboard is up; the path stays after it stops
            "report": None if self._report is None else {"url": "report", "path": self._report},
        }
        text = json.dumps(state, separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._published = Published(self._published.seq + 1, text, final=final)

    def _plan(self) -> dict[str, Any]:
        """Each planned stage's state and the run's ETA (the stages' planned lengths)."""
        current = self._current
        elapsed = float((self._body["stage"] or {}).get("elapsed_s", 0.0))
        stages = []
        eta = 0.0
        at_most = False  # a stage still to run counts iterations: its length is a limit
        for stage in self.plan:
            if stage.name in self._done:
                state = "done"
            elif current is not None and stage.name == current.name:
                state = "running"
                eta += max(stage.length_s - elapsed, 0.0)
                at_most = at_most or stage.counted
            else:
                state = "pending"
                eta += stage.length_s
                at_most = at_most or stage.counted
            stages.append(
                {
                    "name": stage.name,
                    "length_s": stage.length_s,
                    "counted": stage.counted,
                    "state": state,
                }
            )
        return {"stages": stages, "eta_s": round(eta, 1), "eta_is_limit": at_most}

    def _read(
        self,
        info: StageInfo,
        elapsed: float,
        accumulator: RunAccumulator | None,
        *,
        running: bool = True,
    ) -> dict[str, Any]:
        """The current stage's numbers (in the coordinator's thread)."""
        length = info.duration_s + info.ramp_s
        stage = {
            "name": info.name,
            "index": info.index,
            "phase": info.load.get("model") in _PHASES,
            "elapsed_s": round(min(elapsed, length) if length > 0 else elapsed, 1),
            "length_s": length,
            "counted": any(stage.counted for stage in self.plan if stage.name == info.name),
            "load": _load(info),
        }
        if accumulator is None:
            return {**_NOTHING_YET, "stage": stage}
        live = accumulator.live_view(info.index)
        errors: dict[str, int] = {}
        if live.total.error_rate > 0:  # stage_ops encodes every histogram: only when needed
            for stats in accumulator.stage_ops(info.index).values():
                for outcome, count in stats.outcomes.items():
                    if not is_success_key(outcome):
                        errors[outcome] = errors.get(outcome, 0) + count
        health = live.health
        stage["users"] = health.users if running else 0
        stage["in_flight"] = health.in_flight if running else 0
        stage["second"] = live.second
        gates = list(self.gates(info.index)) if self.gates is not None else []
        return {
            "stage": stage,
            "total": _op("all", live.total, running),
            "ops": [_op(name, op, running) for name, op in live.ops.items()],
            "errors": dict(sorted(errors.items(), key=lambda item: -item[1])),
            "gates": [_gate(gate) for gate in gates],
            "generator": {
                "cpu_percent": _number(health.cpu_percent, 1),
                "loop_lag_ms": _number(health.loop_lag_ms, 2),
                "late": health.late,
                "dropped": health.dropped,
            },
        }


def _load(info: StageInfo) -> dict[str, Any]:
    load = info.load
    model = str(load.get("model", ""))
    if model == "open":
        return {"model": model, "rate": float(load.get("rate", 0.0))}
    return {"model": model, "users": int(load.get("users", 0) or 0)}


def _op(name: str, op: LiveOp, running: bool) -> dict[str, Any]:
    return {
        "name": name,
        "rps": _number(op.rps if running else 0.0, 2),
        "count": op.count,
        "p50_ms": _number(op.p50, 3),
        "p95_ms": _number(op.p95, 3),
        "p99_ms": _number(op.p99, 3),
        "error_rate": _number(op.error_rate, 6),
    }


def _number(value: float, digits: int) -> float | None:
    """A number JSON can carry (None for NaN or infinity), rounded for the page."""
    return round(value, digits) if math.isfinite(value) else None


def _gate(gate: GateResult) -> dict[str, Any]:
    return {
        "gate": gate.gate,
        "status": gate.status.value,
        "measured": gate.measured_text,
        "target": gate.target,
        "samples": gate.samples,
        "default": gate.default,
    }
