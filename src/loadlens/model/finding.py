"""A finding: one explanation of why requests failed or got slow, with the evidence behind it.

Findings are made by `loadlens.analysis.findings` from a RunResult and stored on it. Each says
what class of problem it is, whom it blames (the attribution), how bad and how sure it is, the
statistics that support it, the alternatives that were tested and ruled out, example requests
and what to do. A report differs from a dashboard by that last part: what was ruled out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class FindingClass(enum.StrEnum):
    """What kind of problem a finding describes (docs/diagnosis.md numbers them D1–D10)."""

    REQUEST_ATTRIBUTE = "request_attribute"  # D1: failures share a request feature
    BROKEN_CHAIN = "broken_chain"  # D2: a captured value is missing or has the wrong shape
    RACE = "race"  # D3: server errors when a shared entity is used concurrently
    RATE_LIMIT = "rate_limit"  # D4: 429 / 503 with Retry-After
    LATENCY_TAIL = "latency_tail"  # D5: p95 ≫ p50
    SLOW_INPUT = "slow_input"  # D5b: requests with one feature are much slower than the rest
    CONTENTION = "contention"  # D3b: 409/412/423 conflicts rising with concurrent use
    DRIFT = "drift"  # D6: latency grows over a stage at constant load
    SATURATION = "saturation"  # D7: throughput plateaus while latency rises
    MEASUREMENT = "measurement"  # D10: the measurement itself cannot be trusted
    INTEGRITY = "integrity"  # D9: an invariant on the service's data was violated
    UNREACHABLE = "unreachable"  # D11: the target answered no request at all
    LOAD_SHEDDING = "load_shedding"  # D4b: 503 + Retry-After at capacity, not a policy
    LATENCY_FLOOR = "latency_floor"  # D12: a fixed delay on kept-alive connections (Nagle)
    ERROR_PATTERN = "error_pattern"  # D13: failures no other finding explains, and when


class Attribution(enum.StrEnum):
    """Whom a finding blames."""

    TEST_SCRIPT = "test_script"
    TEST_DATA = "test_data"
    LOAD_GENERATOR = "load_generator"
    SERVICE_BUG = "service_bug"
    SERVICE_CAPACITY = "service_capacity"
    POLICY = "policy"
    MEASUREMENT = "measurement"

    @property
    def label(self) -> str:
        """As reports print it: `TEST SCRIPT`, `SERVICE BUG`."""
        return self.value.upper().replace("_", " ")


class Severity(enum.StrEnum):
    """How much a finding matters; the order of `RANK` is the order of a report."""

    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for major, 1 for minor, 2 for info: sort keys, most severe first."""
        return _RANK[self]


_RANK = {Severity.MAJOR: 0, Severity.MINOR: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One line of evidence: what was measured (`label`), the sentence, and the number."""

    label: str  # a stable key, e.g. `fisher_p`, `coverage`
    text: str  # the line as a report prints it
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"label": self.label, "text": self.text, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        """The inverse of `to_dict`."""
        value = d.get("value")
        return cls(str(d["label"]), str(d["text"]), None if value is None else float(value))


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosed problem; `examples` are RequestSample mappings or invariant rows."""

    kind: FindingClass
    attribution: Attribution
    severity: Severity
    confidence: float  # 0..1
    headline: str  # one line with the key numbers
    evidence: tuple[Evidence, ...] = ()
    counter_evidence: tuple[Evidence, ...] = ()  # alternatives tested and ruled out
    examples: tuple[dict[str, Any], ...] = ()
    advice: str = ""
    operation: str | None = None  # the operation it is about, if one
    stage: str | None = None  # the stage it is about, if one

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must lie in [0, 1], not {self.confidence}")

    @property
    def sort_key(self) -> tuple[int, float]:
        """Most severe first, then most confident."""
        return (self.severity.rank, -self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the class is written under `class`)."""
        return {
            "class": self.kind.value,
            "attribution": self.attribution.value,
            "severity": self.severity.value,
            "confidence": self.confidence,
            "headline": self.headline,
            "evidence": [e.to_dict() for e in self.evidence],
            "counter_evidence": [e.to_dict() for e in self.counter_evidence],
            "examples": [dict(x) for x in self.examples],
            "advice": self.advice,
            "operation": self.operation,
            "stage": self.stage,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """The inverse of `to_dict`."""
        operation, stage = d.get("operation"), d.get("stage")
        return cls(
            kind=FindingClass(d["class"]),
            attribution=Attribution(d["attribution"]),
            severity=Severity(d["severity"]),
            confidence=float(d["confidence"]),
            headline=str(d["headline"]),
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence", [])),
            counter_evidence=tuple(Evidence.from_dict(e) for e in d.get("counter_evidence", [])),
            examples=tuple(dict(x) for x in d.get("examples", [])),
            advice=str(d.get("advice", "")),
            operation=None if operation is None else str(operation),
            stage=None if stage is None else str(stage),
        )
