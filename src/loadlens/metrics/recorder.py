"""The worker-side recorder: every request goes through `record`, once a second `take_frame`.

How it works: operations are known when the scenario loads, so each has an index and its
state lives in preallocated lists addressed by that index. `record` only appends the latency
to a list, bumps a counter and two byte totals (`_Tally`); no histogram is touched per
request. Every 4,096 latencies the list is recorded into the operation's HDR histogram in bulk
(`histogram.BulkHistogram`, about 0.2 ms), so `take_frame` has at most that much left to
record before it encodes the histogram and starts new tallies.

Diagnostics follow the same rule. A request's features come as one interned tuple with one
tally (`_FeatureTally`: its outcomes and a coarse latency histogram, `latency_bucket`);
`take_frame` expands the tuples into per-feature counts and latency histograms. Request and
response sizes are features the recorder makes itself: the pair of their power-of-two buckets
is one small integer key of one tally per operation, expanded into `rq:K` and `rs:K` features
at the frame, so no string is built per request. A request like the one before it (the same
tuple, the same size pair, the same outcome: nearly all of them) looks no dict up: the last
tallies are kept beside the operation's `_Tally`, and a tally counts its first outcome in an
int and its latencies in a list by bucket (callgrind on `get`: ~3,100 instructions a request
less than a dict increment per count). A latency below 16 ms takes its bucket from a table.
A request slower than every kept slow example of its operation is wanted as a sample too (the
caller builds it), so the slowest SLOW_SAMPLES of each stage are kept, a few dozen built per
stage at most. A response's instants are added into per-phase sums as they come (`_PhaseSums`: C
integer arithmetic when compiled), so nothing that grows with the request rate is left for the
frame but the latency list. Error templates and samples are few (failures only, and capped),
so they are stored as they come.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from loadlens.metrics.diagnostics import (
    ERROR_TEMPLATES_PER_OP,
    OTHER_FEATURE,
    SAMPLES_PER_OUTCOME,
    SLOW_SAMPLES,
    ErrorTemplate,
    FeatureCounts,
    OpDiagnostics,
    Phases,
    RequestSample,
)
from loadlens.metrics.feature_keys import (
    HEADER_PREFIX,
    REQUEST_SIZE_KEYS,
    RESPONSE_SIZE_KEYS,
    SIZE_FEATURE_CAP,
)
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.histogram import FOLD_EVERY, BulkHistogram, encode_histogram

# The instants of one response, as `loadlens.http.Response.instants`: (start, connected, sent,
# first byte, end) from `time.monotonic_ns()`, and whether the connection was reused.
# Of any length to the type checker: mypyc keeps a fixed-length tuple as a C struct, and would
# box the five instants anew each time one is handed on or stored.
PhaseInstants = tuple[int, ...]


class _FeatureTally:
    """The requests with one feature tuple (or one size bucket) since the last frame: how many
    per outcome, and their latencies as a `latency_bucket` histogram (responses only).

    The first outcome seen (nearly always the only one) is counted in an int field, the others
    in a dict; latencies in a list indexed by bucket (grown as needed). Both are turned back
    into dicts at the frame (`outcome_counts`, `latency_counts`), so a request costs no dict
    lookup here (callgrind: two dict increments were ~500 instructions per tally)."""

    __slots__ = ("first", "first_n", "latency", "outcomes")

    def __init__(self) -> None:
        self.first = ""
        self.first_n = 0
        self.outcomes: dict[str, int] = {}  # outcomes other than `first`
        self.latency: list[int] = []

    def add(self, outcome: str, bucket: int) -> None:
        """One more request; `bucket` < 0 when it got no response."""
        if outcome is self.first:
            self.first_n += 1
        elif self.first_n == 0:
            self.first = outcome
            self.first_n = 1
        elif outcome == self.first:
            self.first_n += 1
        else:
            outcomes = self.outcomes
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if bucket >= 0:
            latency = self.latency
            if bucket >= len(latency):
                latency.extend([0] * (bucket + 1 - len(latency)))
            # Not `latency[bucket] += 1`: compiled, an augmented item assignment is a generic
            # `PyNumber_InPlaceAdd` (~150 instructions, twice a request); this is C arithmetic.
            n: int = latency[bucket]
            latency[bucket] = n + 1

    def outcome_counts(self) -> dict[str, int]:
        """Outcome → requests, the first seen first (as a dict counted in place would be)."""
        counts = {self.first: self.first_n} if self.first_n else {}
        counts.update(self.outcomes)
        return counts

    def latency_counts(self) -> dict[int, int]:
        """Bucket → responses, for the buckets with any."""
        return {bucket: n for bucket, n in enumerate(self.latency) if n}


# A request's interned feature tuple → its tally. Keyed by the tuple alone, not by
# (features, outcome): compiled, a pair key is a C struct, boxed into a new tuple at every use.
FeatureCountsByOutcome = dict[tuple[str, ...], _FeatureTally]


def latency_bucket(latency_us: int) -> int:
    """The bucket of a latency: 8 per power of two (12.5 % wide), exact below 8 µs.
    `loadlens.metrics.diagnostics.bucket_latency_us` gives a bucket's middle back."""
    if 0 <= latency_us < _SMALL_LATENCY:
        return _LATENCY_BUCKETS[latency_us]
    return _latency_bucket_of(latency_us)


def _latency_bucket_of(latency_us: int) -> int:
    """`latency_bucket` computed."""
    if latency_us < 8:
        return latency_us if latency_us > 0 else 0
    k = _log2(latency_us)
    return (k << 3) | ((latency_us >> (k - 3)) & 7)


def _log2(n: int) -> int:
    """floor(log2(n)) for n ≥ 1 (a loop of C integer operations when compiled)."""
    k = 0
    while n >= 256:
        n >>= 8
        k += 8
    while n >= 2:
        n >>= 1
        k += 1
    return k


# Latencies below this (16 ms) take their bucket from a table, as sizes do below.
_SMALL_LATENCY: Final = 16384
_LATENCY_BUCKETS: Final[tuple[int, ...]] = tuple(
    _latency_bucket_of(n) for n in range(_SMALL_LATENCY)
)


def _size_slot_of(size: int) -> int:
    """The size feature's bucket (as `feature_keys.size_bucket`)."""
    if size < 2:
        return 0
    k = _log2(size)
    return k if k < SIZE_FEATURE_CAP else SIZE_FEATURE_CAP - 1


# Sizes below this take their bucket from a table (a tuple lookup, not the _log2 loop: about
# 190 instructions each, twice a request, callgrind).
_SMALL_SIZE: Final = 8192
_SIZE_SLOTS: Final[tuple[int, ...]] = tuple(_size_slot_of(n) for n in range(_SMALL_SIZE))


def _size_slot(size: int) -> int:
    """The size feature's bucket of a byte count."""
    return _SIZE_SLOTS[size] if 0 <= size < _SMALL_SIZE else _size_slot_of(size)


class _Tally:
    """One operation's latencies (µs), byte totals and phase sums since the last frame.

    Compiled, the totals add as C integers and a latency goes to a list in one C call. With an
    `array('q')` (a generic method call that parses its argument) and the totals as boxed ints
    in lists, `record` took about 2,300 instructions a request; now about 960 (callgrind).
    `latencies` is the list of `histogram` (one object: `fold` empties it in place).
    """

    __slots__ = (
        "decoded",
        "feature_tally",
        "features",
        "histogram",
        "latencies",
        "outcome",
        "outcome_n",
        "pair",
        "phases",
        "received",
        "sent",
        "size_tally",
        "wanted",
    )

    def __init__(self) -> None:
        # The last request's feature tuple (interned: an `is` test) and size pair, with their
        # tallies in the recorder's dicts, so that a request like the last looks nothing up.
        # A new _Tally at every frame, when those dicts start afresh too.
        self.features: tuple[str, ...] | None = None
        self.feature_tally: _FeatureTally | None = None
        self.pair = -1
        self.size_tally: _FeatureTally | None = None
        # The last outcome recorded: its count not yet in the recorder's outcome dict (`flush`),
        # and whether an example of it may still be wanted (False once its samples are full:
        # they never empty within the recorder's stage).
        self.outcome = ""
        self.outcome_n = 0
        self.wanted = True
        self.histogram = BulkHistogram()
        self.latencies = self.histogram.values
        self.sent = 0
        self.received = 0
        self.decoded = 0  # bytes of bodies decoded for checks and captures (`decoded`)
        self.phases = _PhaseSums()

    def flush(self, counts: dict[str, int]) -> None:
        """Add the last outcome's pending count to the operation's outcome counts."""
        if self.outcome_n:
            counts[self.outcome] += self.outcome_n
            self.outcome_n = 0


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
        self.add_instants(
            instants[0], instants[1], instants[2], instants[3], instants[4], bool(instants[5])
        )

    def add_instants(
        self, start: int, connected: int, sent: int, first: int, end: int, reused: bool
    ) -> None:
        """One response's instants, as C integers when compiled (no tuple to unbox)."""
        self.connect_ns += connected - start
        self.send_ns += sent - connected
        self.wait_ns += first - sent
        self.receive_ns += end - first
        self.responses += 1
        elapsed_us = (end - start) // 1000
        if reused:
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
        "_sizes",
        "_slow",
        "_slow_floor",
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
        # Per operation: request bucket × SIZE_FEATURE_CAP + response bucket → its tally.
        self._sizes: list[dict[int, _FeatureTally]] = [{} for _ in range(count)]
        self._slow: list[list[RequestSample]] = [[] for _ in range(count)]
        # The latency (ms) a request must beat to be wanted as a slow example, for the stage.
        self._slow_floor: list[float] = [0.0] * count
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
        tally = self._count(op, latency_us, outcome, sent, received, features)
        if timings is not None:
            tally.phases.add(timings)
        return self._wanted(tally, op, outcome, latency_us)

    def record_response(
        self,
        op: int,
        latency_us: int,
        outcome: str,
        sent: int,
        received: int,
        features: tuple[str, ...],
        start_ns: int,
        connected_ns: int,
        sent_ns: int,
        first_ns: int,
        end_ns: int,
        reused: bool,
    ) -> bool:
        """`record` with the response's instants as plain integers (the engine's per-request
        call: compiled, they stay C integers, where a tuple boxes each)."""
        tally = self._count(op, latency_us, outcome, sent, received, features)
        tally.phases.add_instants(start_ns, connected_ns, sent_ns, first_ns, end_ns, reused)
        return self._wanted(tally, op, outcome, latency_us)

    def _count(
        self,
        op: int,
        latency_us: int,
        outcome: str,
        sent: int,
        received: int,
        features: tuple[str, ...],
    ) -> _Tally:
        """Count a request with a latency in its operation's tally, which is returned."""
        # hdrh's own record_value costs about 1.7 µs, which is why nothing here touches it.
        tally = self._tallies[op]
        latencies = tally.latencies
        latencies.append(latency_us)
        if len(latencies) >= FOLD_EVERY:
            tally.histogram.fold()
        tally.sent += sent
        tally.received += received
        if outcome is tally.outcome:
            tally.outcome_n += 1
        else:
            # Counted in the dict at once (its first-seen order kept), later ones in the tally.
            counts = self._outcomes[op]
            tally.flush(counts)
            counts[outcome] = counts.get(outcome, 0) + 1
            tally.outcome = outcome
            tally.wanted = True
        bucket = latency_bucket(latency_us)
        if features:
            feature_tally = tally.feature_tally
            if features is not tally.features or feature_tally is None:
                feature_tally = _feature_tally(self._features[op], features)
                tally.features = features
                tally.feature_tally = feature_tally
            feature_tally.add(outcome, bucket)
        pair = _size_slot(sent) * SIZE_FEATURE_CAP + _size_slot(received)
        size_tally = tally.size_tally
        if pair != tally.pair or size_tally is None:
            sizes = self._sizes[op]
            size_tally = sizes.get(pair)
            if size_tally is None:
                size_tally = sizes[pair] = _FeatureTally()
            tally.pair = pair
            tally.size_tally = size_tally
        size_tally.add(outcome, bucket)
        return tally

    def _wanted(self, tally: _Tally, op: int, outcome: str, latency_us: int) -> bool:
        """Whether an example of this request is still wanted (see `record`)."""
        if tally.wanted:
            if self._sampled[op].get(outcome, 0) < SAMPLES_PER_OUTCOME:
                return True
            tally.wanted = False
        return latency_us > self._slow_floor[op] * 1000

    def decoded(self, op: int, size: int) -> None:
        """A response body was decoded (gzip, br...) to `size` bytes for a check or capture;
        called only then, so a run that decodes nothing pays nothing for it."""
        self._tallies[op].decoded += size

    def count(self, op: int, outcome: str, features: tuple[str, ...] = ()) -> bool:
        """An outcome without a latency (missing_variable, cancelled, a transport error)."""
        counts = self._outcomes[op]
        counts[outcome] = counts.get(outcome, 0) + 1
        if features:
            _count_features(self._features[op], features, outcome, -1)
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
        """An example request: the first SAMPLES_PER_OUTCOME per outcome and stage are kept,
        and the SLOW_SAMPLES slowest of the stage (as slow examples)."""
        sampled = self._sampled[op]
        n = sampled.get(sample.outcome, 0)
        if n < SAMPLES_PER_OUTCOME:
            sampled[sample.outcome] = n + 1
            self._samples[op].append(sample)
            return
        latency = sample.latency_ms
        if latency is None or latency <= self._slow_floor[op]:
            return
        slow = self._slow[op]
        slow.append(sample)
        if len(slow) >= SLOW_SAMPLES:
            slow.sort(key=_latency_of, reverse=True)
            del slow[SLOW_SAMPLES:]
            self._slow_floor[op] = _latency_of(slow[-1])

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
            tally.flush(outcomes)
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
                bytes_decoded=tally.decoded,
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
        slow = self._slow[index]
        if not (features or phase_sums.responses or templates or samples or slow):
            return None
        self._features[index] = {}
        self._templates[index], self._samples[index], self._slow[index] = {}, [], []
        sizes = self._sizes[index]
        self._sizes[index] = {}
        counts = FeatureCounts()
        headers: dict[str, int] = {}
        # Sizes first: every request has them, so the feature cap never drops them.
        for pair, size_tally in sizes.items():
            size_outcomes = size_tally.outcome_counts()
            size_latency = size_tally.latency_counts()
            for feature in (
                REQUEST_SIZE_KEYS[pair // SIZE_FEATURE_CAP],
                RESPONSE_SIZE_KEYS[pair % SIZE_FEATURE_CAP],
            ):
                for outcome, n in size_outcomes.items():
                    counts.add(feature, outcome, n)
                counts.add_latency(feature, size_latency)
        for names, tally in features.items():
            outcomes = tally.outcome_counts()
            latency = tally.latency_counts()
            for feature in names:
                for outcome, n in outcomes.items():
                    counts.add(feature, outcome, n)
                    if feature.startswith(HEADER_PREFIX):
                        name = feature[len(HEADER_PREFIX) :]
                        headers[name] = headers.get(name, 0) + n
                if latency:
                    counts.add_latency(feature, latency)
        phases = phase_sums.phases()
        return OpDiagnostics(
            features=counts,
            templates=[ErrorTemplate(o, t, n) for (o, t), n in templates.items()],
            samples=samples,
            phases=phases,
            headers=headers,
            slow_samples=sorted(slow, key=_latency_of, reverse=True),
        )


def _latency_of(sample: RequestSample) -> float:
    return sample.latency_ms or 0.0


def _feature_tally(by: FeatureCountsByOutcome, features: tuple[str, ...]) -> _FeatureTally:
    """The tally of a feature tuple, made on first use."""
    tally = by.get(features)
    if tally is None:
        tally = by[features] = _FeatureTally()
    return tally


def _count_features(
    by: FeatureCountsByOutcome, features: tuple[str, ...], outcome: str, bucket: int
) -> None:
    """One more request with these features, this outcome and latency bucket (< 0: none)."""
    _feature_tally(by, features).add(outcome, bucket)
