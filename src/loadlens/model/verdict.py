"""Gate results and the verdict of a run: GO, NO-GO or INCONCLUSIVE, with the reasons."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class GateStatus(enum.StrEnum):
    """What one gate concluded."""

    PASSED = "passed"
    FAILED = "failed"
    INSUFFICIENT = "insufficient"  # too few samples to judge: neither passed nor failed
    # the generator's error bound straddles the target: it passes or fails only within it
    UNCERTAIN = "uncertain"
    NOT_AVAILABLE = "not_available"  # the metric was not measured (e.g. an observed metric)


class VerdictKind(enum.StrEnum):
    """The run's conclusion."""

    GO = "go"
    NO_GO = "no_go"
    INCONCLUSIVE = "inconclusive"

    @property
    def label(self) -> str:
        """As reports print it: `GO`, `NO-GO`, `INCONCLUSIVE`."""
        return self.value.upper().replace("_", "-")


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate judged over one stage (or one window of it); `measured` in canonical units."""

    gate: str  # the threshold's canonical text
    stage: str
    status: GateStatus
    measured: float | None  # None when nothing could be measured
    samples: int  # the count behind `measured`: latencies for percentiles, requests for rates
    target: str  # `< 200ms`, `between 85% and 95%`
    window_s: float | None = None  # the window judged; None: the whole stage
    required: int = 0  # samples needed; more than `samples` when INSUFFICIENT
    measured_text: str = ""  # `measured` as the gate's unit writes it: `34.2ms`, `1.5%`
    at_second: int | None = None  # the stage second the (worst) window ended at, if windowed
    # How far the generator's own delays could have moved `measured` (ms, latency gates),
    # and why (docs/thresholds.md, "The generator's error bound"); 0 and "" when none.
    bound_ms: float = 0.0
    bound_cause: str = ""
    default: bool = False  # a default gate, added because the plan defined none

    @property
    def passed(self) -> bool:
        """Whether the gate passed (INSUFFICIENT, UNCERTAIN and NOT_AVAILABLE are not passes)."""
        return self.status is GateStatus.PASSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "gate": self.gate,
            "stage": self.stage,
            "status": self.status.value,
            "measured": self.measured,
            "measured_text": self.measured_text,
            "samples": self.samples,
            "required": self.required,
            "target": self.target,
            "window_s": self.window_s,
            "at_second": self.at_second,
            "bound_ms": self.bound_ms,
            "bound_cause": self.bound_cause,
            "default": self.default,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateResult:
        """The inverse of `to_dict`."""
        measured = d.get("measured")
        window = d.get("window_s")
        at_second = d.get("at_second")
        return cls(
            gate=str(d["gate"]),
            stage=str(d["stage"]),
            status=GateStatus(d["status"]),
            measured=None if measured is None else float(measured),
            samples=int(d["samples"]),
            target=str(d["target"]),
            window_s=None if window is None else float(window),
            required=int(d.get("required", 0)),
            measured_text=str(d.get("measured_text", "")),
            at_second=None if at_second is None else int(at_second),
            bound_ms=float(d.get("bound_ms", 0.0)),
            bound_cause=str(d.get("bound_cause", "")),
            default=bool(d.get("default", False)),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """GO / NO-GO / INCONCLUSIVE, why, and the gates behind it."""

    kind: VerdictKind
    reasons: tuple[str, ...]
    gates: tuple[GateResult, ...] = ()
    stages_not_run: tuple[str, ...] = ()
    failed_stage: str | None = None  # the first stage with a failed gate

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "kind": self.kind.value,
            "reasons": list(self.reasons),
            "gates": [gate.to_dict() for gate in self.gates],
            "stages_not_run": list(self.stages_not_run),
            "failed_stage": self.failed_stage,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        """The inverse of `to_dict`."""
        failed = d.get("failed_stage")
        return cls(
            kind=VerdictKind(d["kind"]),
            reasons=tuple(str(r) for r in d["reasons"]),
            gates=tuple(GateResult.from_dict(g) for g in d.get("gates", [])),
            stages_not_run=tuple(str(s) for s in d.get("stages_not_run", [])),
            failed_stage=None if failed is None else str(failed),
        )
