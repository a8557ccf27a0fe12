"""The worker-side recorder: every request goes through `record`, once a second `take_frame`.

How it works: operations are known when the scenario loads, so each has an index and its
state lives in preallocated lists addressed by that index. `record` only appends the latency
to a list, bumps one dict counter and two byte totals (`_Tally`); no histogram is touched per
request. Every 4,096 latencies the list is recorded into the operation's HDR histogram in bulk
(`histogram.BulkHistogram`, about 0.2 ms), so `take_frame` has at most that much left to
record before it encodes the histogram and starts new tallies.

Diagnostics follow the same rule. A request's features come as one interned tuple and cost one
dict lookup per outcome; `take_frame` expands the tuples into per-feature counts. A response's
instants are added into per-phase sums as they come (`_PhaseSums`: C integer arithmetic when
compiled), so nothing that grows with the request rate is left for the frame but the latency
list. Error templates and samples are few (failures only, and capped), so they are stored as
they come.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from loadlens.metrics.diagnostics import (
    ERROR_TEMPLATES_PER_OP,
    OTHER_FEATURE,
    SAMPLES_PER_OUTCOME,
    ErrorTemplate,
    FeatureCounts,
    OpDiagnostics,
    Phases,
    RequestSample,
)
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import FOLD_EVERY, BulkHistogram, encode_histogram

# The instants of one response, as `loadlens.http.Response.instants`: (start, connected, sent,
# first byte, end) from `time.monotonic_ns()`, and whether the connection was reused.
# Of any length to the type checker: mypyc keeps a fixed-length tuple as a C struct, and would
# box the five instants anew each time one is handed on or stored.
PhaseInstants = tuple[int, ...]


# A request's interned feature tuple → its outcome → how many. Nested, not keyed by the pair:
# compiled, a (features, outcome) key is a C struct, boxed into a new tuple at every use.
FeatureCountsByOutcome = dict[tuple[str, ...], dict[str, int]]


class _Tally:
    """One operation's latencies (µs), byte totals and phase sums since the last frame.

    Compiled, the totals add as C integers and a latency goes to a list in one C call. With an
    `array('q')` (a generic method call that parses its argument) and the totals as boxed ints
    in lists, `record` took about 2,300 instructions a request; now about 960 (callgrind).
    `latencies` is the list of `histogram` (one object: `fold` empties it in place).
    """

    __slots__ = ("histogram", "latencies", "phases", "received", "sent")

    def __init__(self) -> None:
        self.histogram = BulkHistogram()
        self.latencies = self.histogram.values
        self.sent = 0
        self.received = 0
        self.phases = _PhaseSums()


class _PhaseSums:
    """Where one operation's responses spent their time since the last frame, summed as they
    come (ns; the sums of differences equal the differences of the sums).

    Compiled, this is C integer arithmetic on the instants, a few hundred instructions a
    response. Summing a second's kept instant tuples at the frame instead stalled the loop
    there: 5 ms per 50k responses, in one piece, once a second (with the lateness sort, enough
    to make every second at 50,000 arrivals/s start ~1,000 of them late)."""

    __slots__ = (
        "connect_ns",
        "new_squares",
        "new_us",
        "receive_ns",
        "responses",
        "reused",
        "reused_squares",
        "reused_us",
        "send_ns",
        "wait_ns",
    )

    def __init__(self) -> None:
        self.responses = 0
        self.reused = 0
        self.connect_ns = 0
        self.send_ns = 0
        self.wait_ns = 0
        self.receive_ns = 0
        # Response times (µs) and their squares on new and on reused connections: a latency
        # floor that only kept-alive connections show (Nagle / delayed ACK) is told from them.
        self.new_us = 0
        self.new_squares = 0
        self.reused_us = 0
        self.reused_squares = 0

    def add(self, instants: PhaseInstants) -> None:
        """One response's (start, connected, sent, first byte, end, reused)."""
        start, connected, sent, first = instants[0], instants[1], instants[2], instants[3]
        self.connect_ns += connected - start
        self.send_ns += sent - connected
        self.wait_ns += first - sent
        end = instants[4]
        self.receive_ns += end - first
        self.responses += 1
        elapsed_us = (end - start) // 1000
        if instants[5]:
            self.reused += 1
            self.reused_us += elapsed_us
            self.reused_squares += elapsed_us * elapsed_us
        else:
            self.new_us += elapsed_us
            self.new_squares += elapsed_us * elapsed_us

    def phases(self) -> Phases:
        """The totals in µs."""
        return Phases(
            responses=self.responses,
            connect_us=self.connect_ns // 1000,
            send_us=self.send_ns // 1000,
            wait_us=self.wait_ns // 1000,
            receive_us=self.receive_ns // 1000,
            new_connections=self.responses - self.reused,
            new_us=self.new_us,
            new_squares=self.new_squares,
            reused_us=self.reused_us,
            reused_squares=self.reused_squares,
        )


class Recorder:
    """Worker side: operations are addressed by their index, never looked up by name."""

    __slots__ = (
        "_clamped",
        "_clock",
        "_features",
        "_names",
        "_outcomes",
        "_sampled",
        "_samples",
        "_tallies",
        "_template_names",
        "_templates",
    )

    def __init__(
        self, operations: Sequence[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._names = tuple(operations)
        count = len(self._names)
        self._tallies = [_Tally() for _ in range(count)]
        self._outcomes: list[dict[str, int]] = [{} for _ in range(count)]
        self._clamped = 0
        self._features: list[FeatureCountsByOutcome] = [{} for _ in range(count)]
        self._templates: list[dict[tuple[str, str], int]] = [{} for _ in range(count)]
        self._samples: list[list[RequestSample]] = [[] for _ in range(count)]
        # Kept for the whole stage (the recorder lives one stage): the caps are per stage.
        self._template_names: list[set[str]] = [set() for _ in range(count)]
        self._sampled: list[dict[str, int]] = [{} for _ in range(count)]

    @property
    def operations(self) -> tuple[str, ...]:
        """The operation names, in index order."""
        return self._names

    @property
    def clamped(self) -> int:
        """How many latencies so far lay outside 1 µs .. 1 h and were clamped into it."""
        return self._clamped

    def record(
        self,
        op: int,
        latency_us: int,
        outcome: str,
        sent: int,
        received: int,
        features: tuple[str, ...] = (),
        timings: PhaseInstants | None = None,
    ) -> bool:
        """A request that got a latency; True when an example of its outcome is still wanted."""
        # hdrh's own record_value costs about 1.7 µs, which is why nothing here touches it.
        tally = self._tallies[op]
        latencies = tally.latencies
        latencies.append(latency_us)
        if len(latencies) >= FOLD_EVERY:
            tally.histogram.fold()
        tally.sent += sent
        tally.received += received
        counts = self._outcomes[op]
        counts[outcome] = counts.get(outcome, 0) + 1
        if features:
            _count_features(self._features[op], features, outcome)
        if timings is not None:
            tally.phases.add(timings)
        return self._sampled[op].get(outcome, 0) < SAMPLES_PER_OUTCOME

    def count(self, op: int, outcome: str, features: tuple[str, ...] = ()) -> bool:
        """An outcome without a latency (missing_variable, cancelled, a transport error)."""
        counts = self._outcomes[op]
        counts[outcome] = counts.get(outcome, 0) + 1
        if features:
            _count_features(self._features[op], features, outcome)
        return self._sampled[op].get(outcome, 0) < SAMPLES_PER_OUTCOME

    def error(self, op: int, outcome: str, template: str) -> None:
        """A failure's error template (at most ERROR_TEMPLATES_PER_OP distinct per stage)."""
        names = self._template_names[op]
        if template not in names:
            if len(names) >= ERROR_TEMPLATES_PER_OP:
                template = OTHER_FEATURE
            else:
                names.add(template)
        by = self._templates[op]
        key = (outcome, template)
        by[key] = by.get(key, 0) + 1

    def sample(self, op: int, sample: RequestSample) -> None:
        """An example request (the first SAMPLES_PER_OUTCOME per outcome and stage are kept)."""
        sampled = self._sampled[op]
        n = sampled.get(sample.outcome, 0)
        if n < SAMPLES_PER_OUTCOME:
            sampled[sample.outcome] = n + 1
            self._samples[op].append(sample)

    def take_frame(
        self,
        worker: int,
        stage: int,
        second: int,
        health: Health,
        *,
        final: bool = False,
        lateness: str = "",
    ) -> Frame:
        """Everything since the last take, then start afresh; ops with nothing are omitted.
        `lateness` is the executor's, passed through (an encoded histogram)."""
        ops: dict[str, OpFrame] = {}
        for index, name in enumerate(self._names):
            outcomes = self._outcomes[index]
            if not outcomes:
                continue
            tally = self._tallies[index]
            self._tallies[index] = _Tally()
            diagnostics = self._take_diagnostics(index, tally.phases)
            bulk = tally.histogram
            bulk.fold()
            self._clamped += bulk.clamped
            histogram = "" if bulk.histogram is None else encode_histogram(bulk.histogram)
            ops[name] = OpFrame(
                histogram=histogram,
                outcomes=outcomes,
                bytes_sent=tally.sent,
                bytes_received=tally.received,
                diagnostics=diagnostics,
            )
            self._outcomes[index] = {}
        return Frame(
            worker=worker,
            stage=stage,
            second=second,
            time=self._clock(),
            ops=ops,
            health=health,
            final=final,
            lateness=lateness,
        )

    def _take_diagnostics(self, index: int, phase_sums: _PhaseSums) -> OpDiagnostics | None:
        """The operation's diagnostics since the last take (its phases summed in its tally),
        None when nothing was noted."""
        features = self._features[index]
        templates, samples = self._templates[index], self._samples[index]
        if not (features or phase_sums.responses or templates or samples):
            return None
        self._features[index] = {}
        self._templates[index], self._samples[index] = {}, []
        counts = FeatureCounts()
        headers: dict[str, int] = {}
        for names, by_outcome in features.items():
            for outcome, n in by_outcome.items():
                for feature in names:
                    counts.add(feature, outcome, n)
                    if feature.startswith("h:"):
                        headers[feature[2:]] = headers.get(feature[2:], 0) + n
        phases = phase_sums.phases()
        return OpDiagnostics(
            features=counts,
            templates=[ErrorTemplate(o, t, n) for (o, t), n in templates.items()],
            samples=samples,
            phases=phases,
            headers=headers,
        )


def _count_features(by: FeatureCountsByOutcome, features: tuple[str, ...], outcome: str) -> None:
    """One more request with these features and this outcome."""
    outcomes = by.get(features)
    if outcomes is None:
        outcomes = by[features] = {}
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
