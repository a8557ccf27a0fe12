"""What to watch on the service while a run goes, what was seen, and the small expression language.

Sources are sampled every `every` seconds by `loadlens.observe`; each yields named numbers.
`{{ target }}` and `{{ target_port }}` in a source's URL or port are kept as written here and
resolved when a session starts, so `--target` and a demo on a random port work.

The expression language (derived metrics, invariant expectations) is parsed here, once, into a
tree; it has numbers, names (`a.b` reads a nested field), `null`, `true`, `false`, quoted strings,
`+ - * /` (also `×` and `÷`), comparisons, `and`, `or`, `not` and parentheses. Nothing else: no
calls, no attributes, no indexing, so a scenario cannot run code through it.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from loadlens.model.jsonpath import JsonPath
from loadlens.model.scenario import NOWHERE, Location

PLACEHOLDERS = ("target", "target_port")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# ---------------------------------------------------------------------------------------------
# expressions


class ExpressionError(ValueError):
    """Text outside the expression language; the message says where."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: float | str | bool | None


@dataclass(frozen=True, slots=True)
class Name:
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


Expr = Literal | Name | Unary | Binary

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<string>'[^']*'|\"[^\"]*\")"
    r"|(?P<op>==|!=|<=|>=|<|>|[-+*/×÷()]))"
)
_KEYWORDS = {"null": None, "true": True, "false": False}
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
MAX_EXPRESSION_LENGTH = 1000  # expressions are written by hand; longer text is a mistake
_MAX_DEPTH = 50  # parentheses nested deeper than this are refused, not recursed into


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise ExpressionError(f"unexpected `{text[column - 1]}` at column {column}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "op":
            value = {"×": "*", "÷": "/"}.get(value, value)
        elif kind == "name" and value in ("and", "or", "not"):
            kind = "op"
        tokens.append((kind, value, match.start(kind) + 1))
        position = match.end()
    return tokens


class _Parser:
    # precedence climbing: or < and < not < comparison < + - < * / < unary minus < atom
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, *ops: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ops:
            self.index += 1
            return token[1]
        return None

    def parse(self) -> Expr:
        if not self.tokens:
            raise ExpressionError("empty expression")
        expr = self.either()
        token = self.peek()
        if token is not None:
            raise ExpressionError(f"unexpected `{token[1]}` at column {token[2]}")
        return expr

    def either(self) -> Expr:
        expr = self.both()
        while self.take("or"):
            expr = Binary("or", expr, self.both())
        return expr

    def both(self) -> Expr:
        expr = self.negation()
        while self.take("and"):
            expr = Binary("and", expr, self.negation())
        return expr

    def negation(self) -> Expr:
        if self.take("not"):
            return Unary("not", self.negation())
        return self.comparison()

    def comparison(self) -> Expr:
        expr = self.sum()
        op = self.take(*_COMPARISONS)
        if op is not None:
            expr = Binary(op, expr, self.sum())
            if self.take(*_COMPARISONS):
                raise ExpressionError("chained comparisons are not supported: use `and`")
        return expr

    def sum(self) -> Expr:
        expr = self.product()
        while (op := self.take("+", "-")) is not None:
            expr = Binary(op, expr, self.product())
        return expr

    def product(self) -> Expr:
        expr = self.unary()
        while (op := self.take("*", "/")) is not None:
            expr = Binary(op, expr, self.unary())
        return expr

    def unary(self) -> Expr:
        if self.take("-"):
            return Unary("-", self.unary())
        if self.take("+"):
            return self.unary()
        return self.atom()

    def atom(self) -> Expr:
        token = self.peek()
        if token is None:
            raise ExpressionError("the expression ends too early")
        kind, value, column = token
        self.index += 1
        if kind == "number":
            return Literal(float(value))
        if kind == "string":
            return Literal(value[1:-1])
        if kind == "name":
            if value in _KEYWORDS:
                return Literal(_KEYWORDS[value])
            return Name(tuple(value.split(".")))
        if value == "(":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise ExpressionError(f"parentheses nested deeper than {_MAX_DEPTH}")
            expr = self.either()
            self.depth -= 1
            if not self.take(")"):
                raise ExpressionError(f"missing `)` for the `(` at column {column}")
            return expr
        raise ExpressionError(f"unexpected `{value}` at column {column}")


def parse_expression(text: str) -> Expr:
    """The tree of `text`, or ExpressionError naming what is wrong and where."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"longer than {MAX_EXPRESSION_LENGTH} characters")
    return _Parser(text).parse()


def parse_expectation(text: str) -> Expr:
    """An expectation: a full expression, or one starting with a comparison (`== 0`), whose
    left side is then `value`."""
    stripped = text.strip()
    if stripped.startswith(_COMPARISONS):
        return parse_expression(f"value {stripped}")
    return parse_expression(stripped)


def names_in(expr: Expr) -> set[str]:
    """The dotted names an expression reads."""
    if isinstance(expr, Name):
        return {".".join(expr.path)}
    if isinstance(expr, Unary):
        return names_in(expr.operand)
    if isinstance(expr, Binary):
        return names_in(expr.left) | names_in(expr.right)
    return set()


class Missing:
    """A name with no value: arithmetic on it has no value; it equals only `null`."""


MISSING = Missing()


def evaluate(expr: Expr, lookup: Callable[[tuple[str, ...]], object]) -> object:
    """The value of `expr`; `lookup` gives a name's value or MISSING.

    Arithmetic on anything but numbers, and division by zero, give MISSING (no value).
    """
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        return lookup(expr.path)
    if isinstance(expr, Unary):
        operand = evaluate(expr.operand, lookup)
        if expr.op == "not":
            return operand is not True
        return -operand if _is_number(operand) else MISSING  # type: ignore[operator]
    if expr.op == "and":
        return evaluate(expr.left, lookup) is True and evaluate(expr.right, lookup) is True
    if expr.op == "or":
        return evaluate(expr.left, lookup) is True or evaluate(expr.right, lookup) is True
    left, right = evaluate(expr.left, lookup), evaluate(expr.right, lookup)
    if expr.op in _COMPARISONS:
        return _compare(expr.op, left, right)
    return _arithmetic(expr.op, left, right)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _arithmetic(op: str, left: object, right: object) -> object:
    if not (_is_number(left) and _is_number(right)):
        return MISSING
    a, b = float(left), float(right)  # type: ignore[arg-type]
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif b == 0:
        return MISSING
    else:
        result = a / b
    return result if math.isfinite(result) else MISSING


def _compare(op: str, left: object, right: object) -> bool:
    left = None if left is MISSING else left
    right = None if right is MISSING else right
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if _is_number(left) and _is_number(right):
        a, b = float(left), float(right)  # type: ignore[arg-type]
        return _ORDER[op](a, b)
    if isinstance(left, str) and isinstance(right, str):
        return _ORDER[op](left, right)
    return False  # an order between a number and nothing (or text) is never true


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _equal(left: object, right: object) -> bool:
    if _is_number(left) and _is_number(right):
        return float(left) == float(right)  # type: ignore[arg-type]
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return left == right


# ---------------------------------------------------------------------------------------------
# what to observe


def placeholders_in(text: str) -> list[str]:
    """The names inside `{{ }}` in `text`."""
    return [match.group(1) for match in _PLACEHOLDER.finditer(text)]


def target_values(target: str) -> dict[str, str]:
    """The values of `{{ target }}` and `{{ target_port }}` for a scenario's target URL."""
    parts = urlsplit(target)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"target": target.rstrip("/"), "target_port": str(port)}


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """`text` with each `{{ name }}` replaced by values[name] (unknown names kept as written)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class SourceKind(enum.Enum):
    """What an observer reads."""

    JSON = "json"
    PROMETHEUS = "prometheus"
    PROCESS = "process"


@dataclass(frozen=True, slots=True)
class JsonMetric:
    """A number at a JSONPath of a JSON endpoint's body."""

    name: str
    path: JsonPath


@dataclass(frozen=True, slots=True)
class PrometheusMetric:
    """A Prometheus metric family by name, its series filtered by exact label values.

    Series left by the filter are summed. A counter yields `<name>` (its total) and
    `<name>_rate` (per second between two samples); a gauge or untyped metric `<name>`; a
    histogram `<name>_pNN` per requested quantile, over the observations of the last interval;
    a summary `<name>_pNN` for the quantiles it exports.
    """

    name: str
    metric: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ProcessTarget:
    """A local process by pid, pid file or listening TCP port (exactly one is set)."""

    pid: int | None = None
    pidfile: str | None = None
    port: str | None = None  # a number or `{{ target_port }}`


@dataclass(frozen=True, slots=True)
class ObserverSpec:
    """One source: a JSON endpoint, a Prometheus endpoint, or a local process."""

    kind: SourceKind
    url: str = ""  # JSON and Prometheus; may hold `{{ target }}`
    json_metrics: tuple[JsonMetric, ...] = ()  # empty: every number in the body, dotted names
    prometheus_metrics: tuple[PrometheusMetric, ...] = ()
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)  # for histograms, in (0, 1)
    process: ProcessTarget | None = None
    prefix: str = "process"  # process metric names: `<prefix>_cpu_percent`, ...
    location: Location = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class DerivedMetric:
    """A metric computed from others each sample: `hit_rate = hits / (hits + misses)`."""

    name: str
    text: str
    expression: Expr


@dataclass(frozen=True, slots=True)
class ObserveSpec:
    """Everything under `observe:`."""

    sources: tuple[ObserverSpec, ...]
    every: float = 1.0  # seconds between samples
    derived: tuple[DerivedMetric, ...] = ()
    location: Location = field(default=NOWHERE, compare=False)


def quantile_name(name: str, quantile: float) -> str:
    """`latency_p95` for 0.95, `latency_p99_9` for 0.999."""
    text = f"{quantile * 100:.6g}".replace(".", "_")
    return f"{name}_p{text}"


# ---------------------------------------------------------------------------------------------
# what was seen


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One metric's samples `(t, value)`, t in seconds since observation started."""

    name: str
    samples: tuple[tuple[float, float], ...]
    missed: int = 0  # samples that should have been taken but could not
    last_error: str | None = None
    stride: int = 1  # 1: every sample kept; k: every k-th, after thinning to stay bounded


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How one source fared: attempts, failures, and why the last one failed."""

    source: str  # its kind and URL or process description
    attempts: int
    missed: int
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class ObservationResult:
    """What observation saw during a run."""

    every: float
    metrics: tuple[MetricSeries, ...] = ()
    sources: tuple[SourceHealth, ...] = ()

    def series(self, name: str) -> MetricSeries | None:
        """The metric named `name`, if any sample or miss was recorded for it."""
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "every": self.every,
            "metrics": [
                {
                    "name": m.name,
                    "samples": [list(s) for s in m.samples],
                    "missed": m.missed,
                    "last_error": m.last_error,
                    "stride": m.stride,
                }
                for m in self.metrics
            ],
            "sources": [
                {
                    "source": s.source,
                    "attempts": s.attempts,
                    "missed": s.missed,
                    "last_error": s.last_error,
                }
                for s in self.sources
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ObservationResult:
        """The inverse of `to_dict`."""
        metrics: list[MetricSeries] = []
        for m in data.get("metrics", []):  # type: ignore[attr-defined]
            samples = tuple((float(t), float(v)) for t, v in m["samples"])
            metrics.append(
                MetricSeries(m["name"], samples, m["missed"], m["last_error"], m["stride"])
            )
        sources = tuple(
            SourceHealth(s["source"], s["attempts"], s["missed"], s["last_error"])
            for s in data.get("sources", [])  # type: ignore[attr-defined]
        )
        return cls(float(data["every"]), tuple(metrics), sources)  # type: ignore[arg-type]
