"""Integrity of the service's data: invariants to check, the ledger of acknowledged writes, results.

An invariant is a user's oracle run after stages or at the end: an SQL query whose rows are
violations, an SQL scalar with an expectation, or an HTTP GET whose JSONPath matches must each
satisfy an expectation. The ledger is the client's own account: every acknowledged write adds
its delta to `(entity, field)`; reconciling it with the database before and after the run finds
lost writes (less than acknowledged) and phantom or duplicated ones (more).

`Ledger` is the one mutable value here: a plain accumulator with no I/O, so the engine's workers
can keep one each, ship it as JSON, and merge them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loadlens.model.jsonpath import JsonPath
from loadlens.model.observation import Expr
from loadlens.model.scenario import NOWHERE, Location
from loadlens.model.template import Template, VarRef, render

DEFAULT_MAX_EXAMPLES = 10


class Moment(enum.Enum):
    """When an invariant runs."""

    EACH_STAGE = "each_stage"  # after every stage
    END = "end"  # once, after the last stage


class InvariantKind(enum.Enum):
    """How an invariant reads the service's state."""

    SQL_ROWS = "sql"  # every row the query returns is a violation
    SQL_SCALAR = "scalar"  # the query's single value must satisfy `expect`
    HTTP = "http"  # every JSONPath match of the GET's body must satisfy `expect`


@dataclass(frozen=True, slots=True)
class InvariantSpec:
    """One invariant. `db` and `url` may hold `{{ name }}` placeholders filled at check time."""

    name: str
    kind: InvariantKind
    when: frozenset[Moment] = frozenset({Moment.END})
    db: str = "{{ db }}"  # SQL: an SQLAlchemy URL; by default the variable `db`
    query: str = ""  # SQL
    url: str = ""  # HTTP
    path: JsonPath | None = None  # HTTP: default `$`
    expect_text: str = ""  # SCALAR and HTTP
    expect: Expr | None = None
    max_examples: int = DEFAULT_MAX_EXAMPLES
    location: Location = dataclasses.field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class InvariantResult:
    """The outcome of one invariant at one moment; `error` set means it could not be checked."""

    name: str
    kind: str
    passed: bool
    violations: int
    examples: tuple[dict[str, object], ...] = ()
    error: str | None = None
    when: str = Moment.END.value  # `end`, or `each_stage:<stage name>`

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "violations": self.violations,
            "examples": [dict(example) for example in self.examples],
            "error": self.error,
            "when": self.when,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InvariantResult:
        """The inverse of `to_dict`."""
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            passed=bool(data["passed"]),
            violations=int(data["violations"]),
            examples=tuple(dict(example) for example in data.get("examples", ())),
            error=None if data.get("error") is None else str(data["error"]),
            when=str(data.get("when", Moment.END.value)),
        )


# ---------------------------------------------------------------------------------------------
# the ledger


@dataclass(frozen=True, slots=True)
class LedgerRule:
    """A successful `operation` (status in `statuses`) changes `field` of `entity` by `delta`."""

    operation: str
    statuses: frozenset[int]
    entity: Template
    field: str
    delta: Template | float
    location: Location = dataclasses.field(default=NOWHERE, compare=False)

    def entry(self, status: int, lookup: Callable[[VarRef], object]) -> tuple[str, float] | None:
        """(entity, delta) for a request that got `status`, or None if it changes nothing."""
        if status not in self.statuses:
            return None
        entity = render(self.entity, lookup)
        if isinstance(self.delta, float):
            return entity, self.delta
        try:
            return entity, float(render(self.delta, lookup))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class ReconcileSpec:
    """How to read the entities' current values: a query returning `entity` and field columns.

    The query may use `:entities` (expanded to the ledger's entity ids; all-digit ids are
    passed as integers). A column named `value` stands for the only field when the ledger
    names one field.
    """

    db: str
    query: str
    location: Location = dataclasses.field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    """`ledger:` rules and the `reconcile:` query."""

    rules: tuple[LedgerRule, ...]
    reconcile: ReconcileSpec | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the rules change, in order of first mention."""
        return tuple(dict.fromkeys(rule.field for rule in self.rules))


Key = tuple[str, str]  # (entity, field)


class Ledger:
    """Acknowledged writes: per (entity, field), the summed delta and the number of writes."""

    __slots__ = ("_counts", "_deltas", "writes")

    def __init__(self) -> None:
        self._deltas: dict[Key, float] = {}
        self._counts: dict[Key, int] = {}
        self.writes = 0

    def add(self, entity: str, field: str, delta: float) -> None:
        """Record one acknowledged write; called once per acknowledged request."""
        key = (entity, field)
        self._deltas[key] = self._deltas.get(key, 0.0) + delta
        self._counts[key] = self._counts.get(key, 0) + 1
        self.writes += 1

    def merge(self, other: Ledger) -> None:
        """Add another ledger's writes to this one (workers' ledgers into the coordinator's)."""
        for key, delta in other._deltas.items():
            self._deltas[key] = self._deltas.get(key, 0.0) + delta
            self._counts[key] = self._counts.get(key, 0) + other._counts[key]
        self.writes += other.writes

    def delta(self, entity: str, field: str) -> float:
        """The summed delta of acknowledged writes to (entity, field)."""
        return self._deltas.get((entity, field), 0.0)

    def count(self, entity: str, field: str) -> int:
        """How many acknowledged writes changed (entity, field)."""
        return self._counts.get((entity, field), 0)

    def keys(self) -> list[Key]:
        """Every (entity, field) written, in first-write order."""
        return list(self._deltas)

    def entities(self) -> list[str]:
        """Every entity written, in first-write order."""
        return list(dict.fromkeys(entity for entity, _ in self._deltas))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "writes": self.writes,
            "entries": [
                [entity, name, self._deltas[(entity, name)], self._counts[(entity, name)]]
                for entity, name in self._deltas
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Ledger:
        """The inverse of `to_dict`."""
        ledger = cls()
        for entity, name, delta, count in data["entries"]:  # type: ignore[attr-defined]
            ledger._deltas[(str(entity), str(name))] = float(delta)
            ledger._counts[(str(entity), str(name))] = int(count)
        ledger.writes = int(data["writes"])  # type: ignore[call-overload]
        return ledger

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ledger):
            return NotImplemented
        return (self.writes, self._deltas, self._counts) == (
            other.writes,
            other._deltas,
            other._counts,
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One (entity, field) whose final value is not initial + acknowledged deltas."""

    entity: str
    field: str
    initial: float
    acknowledged: float  # the summed delta of acknowledged writes
    writes: int  # how many acknowledged writes
    final: float | None  # None: the entity was not found at the end

    @property
    def expected(self) -> float:
        return self.initial + self.acknowledged

    @property
    def difference(self) -> float:
        """final − expected: negative for lost writes, positive for phantom ones."""
        return (self.final if self.final is not None else 0.0) - self.expected


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    """The ledger against the database: what was lost, what appeared from nowhere."""

    acknowledged_writes: int
    checked: int  # (entity, field) pairs compared
    lost: int  # pairs whose final value is below expected (or that vanished)
    lost_amount: float  # the summed shortfall
    phantom: int  # pairs whose final value is above expected
    phantom_amount: float
    examples: tuple[Discrepancy, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.lost == 0 and self.phantom == 0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "acknowledged_writes": self.acknowledged_writes,
            "checked": self.checked,
            "lost": self.lost,
            "lost_amount": self.lost_amount,
            "phantom": self.phantom,
            "phantom_amount": self.phantom_amount,
            "passed": self.passed,
            "error": self.error,
            "examples": [
                {
                    "entity": d.entity,
                    "field": d.field,
                    "initial": d.initial,
                    "acknowledged": d.acknowledged,
                    "writes": d.writes,
                    "expected": d.expected,
                    "final": d.final,
                }
                for d in self.examples
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReconciliationResult:
        """The inverse of `to_dict`."""
        return cls(
            acknowledged_writes=int(data["acknowledged_writes"]),
            checked=int(data["checked"]),
            lost=int(data["lost"]),
            lost_amount=float(data["lost_amount"]),
            phantom=int(data["phantom"]),
            phantom_amount=float(data["phantom_amount"]),
            examples=tuple(
                Discrepancy(
                    entity=str(d["entity"]),
                    field=str(d["field"]),
                    initial=float(d["initial"]),
                    acknowledged=float(d["acknowledged"]),
                    writes=int(d["writes"]),
                    final=None if d["final"] is None else float(d["final"]),
                )
                for d in data.get("examples", ())
            ),
            error=None if data.get("error") is None else str(data["error"]),
        )
