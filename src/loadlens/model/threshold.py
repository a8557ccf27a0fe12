"""Thresholds (gates): a condition on one metric of a stage, parsed from text like `p95 < 200ms`.

How it works: `parse_threshold` scans the text left to right (metric, optional arguments and
filters, comparison, values, then the optional `over` and `abort` clauses) and builds a frozen
`Threshold` in canonical units: latencies in milliseconds, rates as fractions, throughput per
second, windows in seconds. `describe()` writes the canonical text back, so that
`parse_threshold(t.describe()) == t`. The grammar is documented in docs/thresholds.md.
Filters are kept as written; `loadlens.spec` resolves them to operation names at load.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction


class ThresholdSyntaxError(ValueError):
    """A threshold that cannot be parsed; `column` is 1-based within the threshold's text.

    A plain ValueError, as the model has no errors of its own: `loadlens.spec` turns it into
    a located Problem."""

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint


class Metric(enum.StrEnum):
    """What a threshold measures."""

    PERCENTILE = "percentile"  # latency pN, ms
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    ERROR_RATE = "error_rate"  # non-ok / count; `exclude` statuses leave both out
    RATE = "rate"  # requests matching the selector / count
    RPS = "rps"  # requests per second
    COUNT = "count"  # requests
    DROPPED = "dropped"  # open model: iterations dropped
    LATE = "late"  # open model: iterations started late
    OBSERVED = "observed"  # a service metric from `observe:`; evaluated by that feature


class Comparison(enum.StrEnum):
    """How the measured value is compared with the target."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    BETWEEN = "between"  # low <= measured <= high


class Unit(enum.Enum):
    """The kind of value a metric takes, which decides how its targets are written."""

    LATENCY = "latency"
    FRACTION = "fraction"
    PER_SECOND = "per_second"
    COUNT = "count"
    NUMBER = "number"


FILTER_KEYS = ("op", "flow", "tag")
RATE_SELECTORS = ("status", "check", "outcome")
DEFAULT_ABORT_AFTER_S = 5.0  # an abort gate waits this long into a stage before it may stop it

_NAMED = {
    "avg": Metric.AVG,
    "min": Metric.MIN,
    "max": Metric.MAX,
    "error_rate": Metric.ERROR_RATE,
    "rate": Metric.RATE,
    "rps": Metric.RPS,
    "count": Metric.COUNT,
    "dropped": Metric.DROPPED,
    "late": Metric.LATE,
}
KNOWN_METRICS = ("p50", "p90", "p95", "p99", "p99.9", *_NAMED)
_UNITS = {
    Metric.PERCENTILE: Unit.LATENCY,
    Metric.AVG: Unit.LATENCY,
    Metric.MIN: Unit.LATENCY,
    Metric.MAX: Unit.LATENCY,
    Metric.ERROR_RATE: Unit.FRACTION,
    Metric.RATE: Unit.FRACTION,
    Metric.RPS: Unit.PER_SECOND,
    Metric.COUNT: Unit.COUNT,
    Metric.DROPPED: Unit.COUNT,
    Metric.LATE: Unit.COUNT,
    Metric.OBSERVED: Unit.NUMBER,
}
_LATENCY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)")

_WS = re.compile(r"\s*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[0-9]+)?")
_PERCENTILE = re.compile(r"p([0-9]+(?:\.[0-9]+)?)")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_UNIT = re.compile(r"ms|us|µs|s|%|/s|min|m|h")
_OPERATOR = re.compile(r"<=|>=|==|<|>|between\b")
_WORD = re.compile(r"[A-Za-z_]+")
_JUNK = re.compile(r"[A-Za-z0-9_%/µ]+")
_ARG_VALUE = re.compile(r"[^,)\s]+")
_FILTER_VALUE = re.compile(r'"[^"]*"|[^,}"]+')


@dataclass(frozen=True, slots=True)
class Threshold:
    """A gate: `metric [filters] comparison [over W] [abort [after D]]`, canonical units.

    `selector` holds the argument of `rate(...)` (`status=409`, `check=NAME`,
    `outcome=capture_failed`) or of `error_rate(exclude=429,503)`, and the name of an observed
    metric. `operations` is filled in at load: the operation names the filters select
    (None: every operation).
    """

    metric: Metric
    op: Comparison
    low: float  # the target; for BETWEEN the lower bound
    high: float | None = None  # BETWEEN only
    percentile: float | None = None  # PERCENTILE only: 95.0 for p95
    selector: str = ""
    filters: tuple[tuple[str, str], ...] = ()  # (key, value) in written order
    window_s: float | None = None  # `over W`; None: the whole stage
    abort: bool = False
    abort_after_s: float = DEFAULT_ABORT_AFTER_S
    operations: frozenset[str] | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)  # as written, for messages

    @property
    def unit(self) -> Unit:
        """The kind of value measured and targeted."""
        return _UNITS[self.metric]

    @property
    def name(self) -> str:
        """The metric as written: `p95`, `error_rate(exclude=429)`, `rate(status=409)`."""
        if self.metric is Metric.PERCENTILE:
            assert self.percentile is not None
            return f"p{_number(self.percentile)}"
        if self.metric is Metric.OBSERVED:
            return self.selector
        if self.metric is Metric.RATE:
            return f"rate({self.selector})"
        if self.metric is Metric.ERROR_RATE and self.selector:
            return f"error_rate({self.selector})"
        return self.metric.value

    @property
    def min_samples(self) -> int:
        """The sample count below which the gate cannot be judged (see docs/thresholds.md)."""
        if self.metric is Metric.PERCENTILE:
            assert self.percentile is not None
            tail = 1 - Fraction(str(self.percentile)) / 100
            return math.ceil(5 / tail)
        if self.metric in (Metric.ERROR_RATE, Metric.RATE, Metric.AVG, Metric.MIN, Metric.MAX):
            # a rate is judged on what was sent, however few: a smoke run of 10 requests with
            # 3 failures failed `error_rate < 1%`, and one without failures passed it
            return 1
        return 0

    def passes(self, measured: float) -> bool:
        """Whether a measured value (canonical units) meets the target."""
        if self.op is Comparison.LT:
            return measured < self.low
        if self.op is Comparison.LE:
            return measured <= self.low
        if self.op is Comparison.GT:
            return measured > self.low
        if self.op is Comparison.GE:
            return measured >= self.low
        if self.op is Comparison.EQ:
            return measured == self.low
        assert self.high is not None
        return self.low <= measured <= self.high

    def target(self) -> str:
        """The comparison alone: `< 200ms`, `between 85% and 95%`."""
        if self.op is Comparison.BETWEEN:
            assert self.high is not None
            return f"between {self.format(self.low)} and {self.format(self.high)}"
        return f"{self.op.value} {self.format(self.low)}"

    def format(self, value: float) -> str:
        """A value in this metric's unit, as the canonical text writes it."""
        unit = self.unit
        if unit is Unit.LATENCY:
            return f"{_number(value)}ms"
        if unit is Unit.FRACTION:
            percent = float(repr(value * 100))
            return f"{_number(percent)}%" if percent / 100 == value else _number(value)
        if unit is Unit.PER_SECOND:
            return f"{_number(value)}/s"
        return _number(value)

    def describe(self) -> str:
        """The canonical text: `parse_threshold(t.describe()) == t`."""
        parts = [self.name + _filters_text(self.filters), self.target()]
        if self.window_s is not None:
            parts.append(f"over {_number(self.window_s)}s")
        if self.abort:
            parts.append("abort")
            if self.abort_after_s != DEFAULT_ABORT_AFTER_S:
                parts.append(f"after {_number(self.abort_after_s)}s")
        return " ".join(parts)


def _number(value: float) -> str:
    """The shortest text that reads back as `value`; integers without a point."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _filters_text(filters: tuple[tuple[str, str], ...]) -> str:
    if not filters:
        return ""
    items = []
    for key, value in filters:
        plain = value == value.strip() and not any(c in value for c in ',{}":')
        items.append(f"{key}:{value}" if plain else f'{key}:"{value}"')
    return "{" + ",".join(items) + "}"


class _Scanner:
    """The text and a position in it; every read skips leading blanks first."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        match = _WS.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()

    def peek(self, literal: str) -> bool:
        self.skip()
        return self.text.startswith(literal, self.pos)

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        self.skip()
        match = pattern.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def expect(self, literal: str, what: str) -> None:
        if not self.peek(literal):
            raise self.error(f"expected {what}")
        self.pos += len(literal)

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def error(self, message: str, pos: int | None = None, hint: str | None = None) -> Exception:
        at = self.pos if pos is None else pos
        found = self.text[at:].split(" ", 1)[0] if at < len(self.text) else ""
        suffix = f", found `{found}`" if found and message.startswith("expected") else ""
        return ThresholdSyntaxError(message + suffix, at + 1, hint)


def parse_threshold(text: str) -> Threshold:
    """The Threshold written in `text`; raises ThresholdSyntaxError with the column at fault."""
    scan = _Scanner(text)
    if scan.at_end():
        raise scan.error("empty threshold: expected a metric such as `p95 < 200ms`")
    metric, percentile, selector = _metric(scan)
    filters = _filters(scan) if scan.peek("{") else ()
    op_at = scan.pos
    operator = scan.take(_OPERATOR)
    if operator is None:
        raise scan.error("expected a comparison (`<`, `<=`, `>`, `>=`, `==` or `between`)")
    op = Comparison(operator.group().strip())
    unit = _UNITS[metric]
    low = _value(scan, unit)
    high = None
    if op is Comparison.BETWEEN:
        if scan.take(_WORD_AND) is None:
            raise scan.error("expected `and` after the lower bound")
        high = _value(scan, unit)
        if high < low:
            raise scan.error("`between` needs the lower bound first", op_at)
    window_s = None
    abort = False
    abort_after_s = DEFAULT_ABORT_AFTER_S
    while not scan.at_end():
        word_at = scan.pos
        word = scan.take(_WORD)
        if word is not None and word.group() == "over" and window_s is None and not abort:
            window_s = _duration(scan)
            if window_s <= 0:
                raise scan.error("a window must be longer than 0s", word_at)
        elif word is not None and word.group() == "abort" and not abort:
            abort = True
            after_at = scan.pos
            after = scan.take(_WORD)
            if after is not None and after.group() == "after":
                abort_after_s = _duration(scan)
            elif after is not None:
                scan.pos = after_at
        else:
            raise scan.error("expected `over DURATION`, `abort` or the end", word_at)
    return Threshold(
        metric=metric,
        op=op,
        low=low,
        high=high,
        percentile=percentile,
        selector=selector,
        filters=filters,
        window_s=window_s,
        abort=abort,
        abort_after_s=abort_after_s,
        text=text.strip(),
    )


_WORD_AND = re.compile(r"and\b")


def _metric(scan: _Scanner) -> tuple[Metric, float | None, str]:
    scan.skip()
    start = scan.pos
    match = scan.take(_NAME)
    if match is None:
        raise scan.error("expected a metric such as `p95`, `error_rate` or `rps`")
    name = match.group()
    percentile = _PERCENTILE.fullmatch(name)
    if percentile is not None:
        value = float(percentile.group(1))
        if not 0 < value < 100:
            raise scan.error(f"percentile `{name}` must lie between p0 and p100", start)
        return Metric.PERCENTILE, value, ""
    if re.fullmatch(r"p[0-9].*", name):
        hint = _closest(name)
        raise scan.error(f"unknown metric `{name}`", start, hint)
    metric = _NAMED.get(name)
    if metric is None:
        if scan.peek("("):
            raise scan.error(f"unknown metric `{name}`", start, _closest(name))
        return Metric.OBSERVED, None, name
    if metric is Metric.RATE:
        if not scan.peek("("):
            raise scan.error("expected `(`: `rate(status=409)`, `rate(check=NAME)`")
        return metric, None, _rate_selector(scan)
    if metric is Metric.ERROR_RATE and scan.peek("("):
        return metric, None, _exclude(scan)
    return metric, None, ""


def _closest(name: str) -> str | None:
    close = difflib.get_close_matches(name, KNOWN_METRICS, n=1, cutoff=0.5)
    return f"did you mean `{close[0]}`?" if close else None


def _argument(scan: _Scanner, keys: tuple[str, ...]) -> tuple[str, str, int]:
    scan.expect("(", "`(`")
    key_at = scan.pos
    key = scan.take(_WORD)
    if key is None or key.group() not in keys:
        scan.skip()
        allowed = ", ".join(f"`{k}=`" for k in keys)
        raise scan.error(f"expected {allowed}", key_at if key is None else key.start())
    scan.expect("=", "`=`")
    scan.skip()
    value_at = scan.pos
    values = []
    while True:
        value = scan.take(_ARG_VALUE)
        if value is None:
            raise scan.error("expected a value")
        values.append(value.group())
        if not scan.peek(","):
            break
        scan.pos += 1
    scan.expect(")", "`)`")
    return key.group(), ",".join(values), value_at


def _rate_selector(scan: _Scanner) -> str:
    key, value, at = _argument(scan, RATE_SELECTORS)
    if key == "status":
        _statuses(scan, value, at)
    elif "," in value:
        raise scan.error(f"`{key}=` takes one value", at)
    return f"{key}={value}"


def _exclude(scan: _Scanner) -> str:
    key, value, at = _argument(scan, ("exclude",))
    _statuses(scan, value, at)
    return f"{key}={value}"


def _statuses(scan: _Scanner, value: str, at: int) -> None:
    for status in value.split(","):
        if _STATUS.fullmatch(status) is None:
            raise scan.error(f"`{status}` is not a status (`409`) or a class (`4xx`)", at)


def _filters(scan: _Scanner) -> tuple[tuple[str, str], ...]:
    scan.expect("{", "`{`")
    filters: list[tuple[str, str]] = []
    while True:
        key_at = scan.pos
        key = scan.take(_WORD)
        if key is None or key.group() not in FILTER_KEYS:
            scan.skip()
            raise scan.error(
                "expected a filter key: `op`, `flow` or `tag`",
                key_at if key is None else key.start(),
            )
        scan.expect(":", "`:` after the filter key")
        value = scan.take(_FILTER_VALUE)
        text = "" if value is None else value.group()
        text = text[1:-1] if text.startswith('"') else text.strip()
        if not text:
            raise scan.error(f"expected a name after `{key.group()}:`")
        filters.append((key.group(), text))
        if scan.peek("}"):
            scan.pos += 1
            return tuple(filters)
        scan.expect(",", "`,` or `}`")


def _quantity(scan: _Scanner) -> tuple[float, str, int]:
    scan.skip()
    at = scan.pos
    number = scan.take(_NUMBER)
    if number is None:
        raise scan.error("expected a number")
    unit = _UNIT.match(scan.text, scan.pos)
    suffix = ""
    if unit is not None:
        suffix = unit.group()
        scan.pos = unit.end()
    junk = _JUNK.match(scan.text, scan.pos)
    if junk is not None:
        raise scan.error(f"unknown unit `{suffix}{junk.group()}`", number.end())
    return float(number.group()), suffix, at


def _value(scan: _Scanner, unit: Unit) -> float:
    number, suffix, at = _quantity(scan)
    if unit is Unit.LATENCY:
        if suffix not in ("", *_LATENCY_UNITS):
            raise scan.error(f"`{suffix}` is not a latency unit (ms, s, us)", at)
        return number * _LATENCY_UNITS.get(suffix, 1.0)
    if unit is Unit.FRACTION:
        if suffix == "%":
            value = number / 100
        elif suffix == "":
            value = number
        else:
            raise scan.error(f"a rate is a percentage (`1%`) or a fraction, not `{suffix}`", at)
        if value > 1:
            raise scan.error("a rate cannot exceed 100%", at)
        return value
    if unit is Unit.PER_SECOND:
        if suffix not in ("", "/s"):
            raise scan.error(f"throughput is a number per second (`100/s`), not `{suffix}`", at)
        return number
    if unit is Unit.COUNT:
        if suffix or not number.is_integer():
            raise scan.error("expected a whole number", at)
        return number
    if suffix == "%":
        return number / 100
    if suffix:
        raise scan.error(f"unexpected unit `{suffix}`", at)
    return number


def _duration(scan: _Scanner) -> float:
    number, suffix, at = _quantity(scan)
    if suffix not in _DURATION_UNITS:
        raise scan.error("expected a duration with a unit (`30s`, `2m`)", at)
    return number * _DURATION_UNITS[suffix]
