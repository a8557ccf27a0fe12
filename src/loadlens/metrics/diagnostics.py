"""What the diagnosis needs beyond latencies and outcomes: request features, error templates,
example requests, and where time went. Recorded per stage × operation, bounded whatever the
run length (see the limits below), merged across workers by the coordinator.

Feature names (a request has a set of them; each is counted with the request's outcome and
latency) are typed values made and read in one place: `loadlens.metrics.feature_keys`, whose
docstring lists them (`q:KEY`, `qv:KEY=VALUE`, `v:VAR=SHAPE`, `val:VAR=VALUE`, `src:VAR@STEP`,
`overlap:VAR`, `rq:BUCKET`, `body:truncated`, ...). Latencies per feature are kept as coarse
histograms (`latency_bucket` in the recorder: 8 buckets per power of two), enough for a rank
test and the ratio of medians, and mergeable by adding counts.

Limits: at most FEATURES_PER_OP distinct features per stage × operation (later ones are
counted under `other`, and `dropped_features` says how many), ERROR_TEMPLATES_PER_OP
templates, SAMPLES_PER_OUTCOME example requests per stage × operation × outcome, and the
SLOW_SAMPLES slowest requests per stage × operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

FEATURES_PER_OP = 200
ERROR_TEMPLATES_PER_OP: Final = 20
SAMPLES_PER_OUTCOME: Final = 3
SLOW_SAMPLES: Final = 5
OTHER_FEATURE: Final = "other"


@dataclass(slots=True)
class FeatureCounts:
    """How often each feature was present, per outcome key, for one stage × operation."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # feature -> outcome -> n
    dropped_features: int = 0  # feature occurrences counted under `other` (past the cap)
    # feature -> latency bucket -> n, for the responses with the feature (features in `counts`)
    latency: dict[str, dict[int, int]] = field(default_factory=dict)

    def add_latency(self, feature: str, histogram: dict[int, int]) -> None:
        """Add a latency histogram to a feature's (one already counted; others are dropped)."""
        if feature not in self.counts:
            return
        into = self.latency.get(feature)
        if into is None:
            into = self.latency[feature] = {}
        for bucket, n in histogram.items():
            into[bucket] = into.get(bucket, 0) + n

    def add(self, feature: str, outcome: str, n: int) -> None:
        """Count a feature n times with an outcome; past the cap, under `other`."""
        by = self.counts.get(feature)
        if by is None:
            if len(self.counts) >= FEATURES_PER_OP + (OTHER_FEATURE in self.counts):
                self.dropped_features += n
                feature = OTHER_FEATURE
                by = self.counts.setdefault(feature, {})
            else:
                by = self.counts[feature] = {}
        by[outcome] = by.get(outcome, 0) + n

    def merge(self, other: FeatureCounts) -> None:
        """Fold another count for the same stage × operation in (the cap still holds)."""
        for feature, by in other.counts.items():
            for outcome, n in by.items():
                self.add(feature, outcome, n)
        self.dropped_features += other.dropped_features
        for feature, histogram in other.latency.items():
            self.add_latency(feature, histogram)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "counts": self.counts,
            "dropped_features": self.dropped_features,
            "latency": {
                f: {str(b): n for b, n in sorted(h.items())} for f, h in self.latency.items()
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureCounts:
        """The inverse of `to_dict` (results written before latencies per feature have none)."""
        counts = {str(f): {str(o): int(n) for o, n in by.items()} for f, by in d["counts"].items()}
        latency = {
            str(f): {int(b): int(n) for b, n in h.items()} for f, h in d.get("latency", {}).items()
        }
        return cls(counts, int(d.get("dropped_features", 0)), latency)


def bucket_latency_us(bucket: int) -> float:
    """The middle of a latency bucket, in µs (the inverse of `recorder.latency_bucket`)."""
    if bucket < 8:
        return float(bucket)
    k, m = bucket >> 3, bucket & 7
    width = 1 << (k - 3)
    return float(((8 | m) << (k - 3)) + width / 2)


@dataclass(frozen=True, slots=True)
class ErrorTemplate:
    """A failure's response body or error message with numbers and ids masked, and its count."""

    outcome: str  # the outcome key, e.g. `status:500`
    template: str  # e.g. `{"error": "UNIQUE constraint failed: refresh_tokens.token"}`
    count: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"outcome": self.outcome, "template": self.template, "count": self.count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ErrorTemplate:
        """The inverse of `to_dict`."""
        return cls(str(d["outcome"]), str(d["template"]), int(d["count"]))


@dataclass(frozen=True, slots=True)
class RequestSample:
    """One example request, redacted: what a reader needs to see a failure for themselves."""

    outcome: str
    method: str
    target: str  # path and query as sent, secrets masked
    status: int | None  # None when no response came
    latency_ms: float | None
    response: str  # the first 300 characters of the body or the error message, redacted
    variables: dict[str, str]  # variables the request used -> their values (redacted, ≤ 80 chars)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "outcome": self.outcome,
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "response": self.response,
            "variables": dict(self.variables),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RequestSample:
        """The inverse of `to_dict`."""
        return cls(
            outcome=str(d["outcome"]),
            method=str(d["method"]),
            target=str(d["target"]),
            status=None if d["status"] is None else int(d["status"]),
            latency_ms=None if d["latency_ms"] is None else float(d["latency_ms"]),
            response=str(d["response"]),
            variables={str(k): str(v) for k, v in d["variables"].items()},
        )


@dataclass(slots=True)
class Phases:
    """Where the time of an operation's responses went: sums in microseconds, and how many."""

    responses: int = 0
    connect_us: int = 0  # waiting for a connection (new connections and pool waits)
    send_us: int = 0
    wait_us: int = 0  # sent → first byte: the server's time (and the network's)
    receive_us: int = 0  # first byte → complete
    new_connections: int = 0
    # Whole response times on new and on reused connections: sums (µs) and sums of squares
    # (µs²), so a floor that only kept-alive connections show can be tested (findings/nagle).
    new_us: int = 0
    new_squares: int = 0
    reused_us: int = 0
    reused_squares: int = 0

    def to_dict(self) -> dict[str, int]:
        """A JSON-ready mapping."""
        return {
            "responses": self.responses,
            "connect_us": self.connect_us,
            "send_us": self.send_us,
            "wait_us": self.wait_us,
            "receive_us": self.receive_us,
            "new_connections": self.new_connections,
            "new_us": self.new_us,
            "new_squares": self.new_squares,
            "reused_us": self.reused_us,
            "reused_squares": self.reused_squares,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Phases:
        """The inverse of `to_dict`."""
        return cls(
            responses=int(d.get("responses", 0)),
            connect_us=int(d.get("connect_us", 0)),
            send_us=int(d.get("send_us", 0)),
            wait_us=int(d.get("wait_us", 0)),
            receive_us=int(d.get("receive_us", 0)),
            new_connections=int(d.get("new_connections", 0)),
            new_us=int(d.get("new_us", 0)),
            new_squares=int(d.get("new_squares", 0)),
            reused_us=int(d.get("reused_us", 0)),
            reused_squares=int(d.get("reused_squares", 0)),
        )

    def merge(self, other: Phases) -> None:
        """Add another worker's sums."""
        self.responses += other.responses
        self.connect_us += other.connect_us
        self.send_us += other.send_us
        self.wait_us += other.wait_us
        self.receive_us += other.receive_us
        self.new_connections += other.new_connections
        self.new_us += other.new_us
        self.new_squares += other.new_squares
        self.reused_us += other.reused_us
        self.reused_squares += other.reused_squares


@dataclass(slots=True)
class OpDiagnostics:
    """Everything the diagnosis records for one stage × operation."""

    features: FeatureCounts = field(default_factory=FeatureCounts)
    templates: list[ErrorTemplate] = field(default_factory=list)
    samples: list[RequestSample] = field(default_factory=list)
    phases: Phases = field(default_factory=Phases)
    headers: dict[str, int] = field(default_factory=dict)  # e.g. {"retry-after": 12}
    slow_samples: list[RequestSample] = field(default_factory=list)  # slowest first

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "features": self.features.to_dict(),
            "templates": [t.to_dict() for t in self.templates],
            "samples": [s.to_dict() for s in self.samples],
            "phases": self.phases.to_dict(),
            "headers": dict(self.headers),
            "slow_samples": [s.to_dict() for s in self.slow_samples],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpDiagnostics:
        """The inverse of `to_dict`."""
        return cls(
            features=FeatureCounts.from_dict(d["features"]),
            templates=[ErrorTemplate.from_dict(t) for t in d["templates"]],
            samples=[RequestSample.from_dict(s) for s in d["samples"]],
            phases=Phases.from_dict(d["phases"]),
            headers={str(k): int(v) for k, v in d.get("headers", {}).items()},
            slow_samples=[RequestSample.from_dict(s) for s in d.get("slow_samples", [])],
        )

    def merge(self, other: OpDiagnostics) -> None:
        """Fold another frame's or worker's diagnostics for the same stage × operation in.

        Counts and latency histograms add; templates merge by (outcome, template), past
        ERROR_TEMPLATES_PER_OP distinct ones under `other`; samples keep the first
        SAMPLES_PER_OUTCOME per outcome, slow samples the SLOW_SAMPLES slowest.
        """
        self.features.merge(other.features)
        if other.templates:
            self.templates = merge_templates(self.templates, other.templates)
        if other.samples:
            kept: dict[str, int] = {}
            for sample in self.samples:
                kept[sample.outcome] = kept.get(sample.outcome, 0) + 1
            for sample in other.samples:
                if kept.get(sample.outcome, 0) < SAMPLES_PER_OUTCOME:
                    kept[sample.outcome] = kept.get(sample.outcome, 0) + 1
                    self.samples.append(sample)
        if other.slow_samples:
            both = [*self.slow_samples, *other.slow_samples]
            both.sort(key=lambda s: s.latency_ms or 0.0, reverse=True)
            self.slow_samples = both[:SLOW_SAMPLES]
        self.phases.merge(other.phases)
        for name, n in other.headers.items():
            self.headers[name] = self.headers.get(name, 0) + n


def merge_templates(first: list[ErrorTemplate], second: list[ErrorTemplate]) -> list[ErrorTemplate]:
    """Both lists' counts by (outcome, template); past the cap, under template `other`."""
    counts: dict[tuple[str, str], int] = {}
    distinct = 0
    for item in (*first, *second):
        key = (item.outcome, item.template)
        if key not in counts:
            if item.template != OTHER_FEATURE and distinct >= ERROR_TEMPLATES_PER_OP:
                key = (item.outcome, OTHER_FEATURE)
            elif item.template != OTHER_FEATURE:
                distinct += 1
        counts[key] = counts.get(key, 0) + item.count
    return [ErrorTemplate(outcome, template, n) for (outcome, template), n in counts.items()]
