"""How a virtual user finds the value of a template variable.

Each user has its own variables (captures, `vars:`); pools and feeders are shared by every user
of a worker. A variable without a value raises MissingVariableError, which the user records as the
`missing_variable` outcome of the request that needed it, instead of sending an empty value.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

from loadlens.http.cookies import CookieJar
from loadlens.model.scenario import Feeder, FeederOrder
from loadlens.model.template import VarRef, VarSource

POOL_LIMIT = 100_000  # values kept per pool; beyond it a random old value is replaced
# Where setup's cookies travel to the workers among setup's variables: a name no template can
# reference (`@`), read once per user by `seed_cookies`.
SETUP_COOKIES = "cookies@setup"


class MissingVariableError(Exception):
    """A template needs a variable that has no value."""

    def __init__(self, name: str, origin: str) -> None:
        super().__init__(name)
        self.name = name
        self.origin = origin  # the step whose capture should have set it, or ""

    @property
    def outcome_detail(self) -> str:
        """`id@create`: the variable, and the step whose capture found nothing."""
        return f"{self.name}@{self.origin}" if self.origin else self.name


class FeederCursor:
    """Hands out a feeder's rows; workers interleave sequential rows so none is used twice."""

    def __init__(self, feeder: Feeder, worker: int, workers: int, rng: random.Random) -> None:
        self.feeder = feeder
        self._columns = {name: i for i, name in enumerate(feeder.columns)}
        self._next = worker
        self._stride = workers
        self._rng = rng

    def draw(self, user_id: int) -> tuple[object, ...]:
        """The row a user gets for its next iteration."""
        rows = self.feeder.rows
        order = self.feeder.order
        if order is FeederOrder.UNIQUE:
            return rows[user_id % len(rows)]
        if order is FeederOrder.RANDOM:
            return rows[self._rng.randrange(len(rows))]
        row = rows[self._next % len(rows)]
        self._next += self._stride
        return row

    def column(self, name: str) -> int:
        """Index of a column (validated at load, so it exists)."""
        return self._columns[name]


@dataclass(slots=True)
class SharedData:
    """What every user of one worker shares: pools, feeder cursors, the random source."""

    rng: random.Random
    pools: dict[str, list[object]] = field(default_factory=dict)
    feeders: dict[str, FeederCursor] = field(default_factory=dict)

    def add_to_pool(self, name: str, value: object) -> None:
        """Append to a pool, keeping it bounded."""
        pool = self.pools.setdefault(name, [])
        if len(pool) < POOL_LIMIT:
            pool.append(value)
        else:
            pool[self.rng.randrange(POOL_LIMIT)] = value


@dataclass(slots=True)
class UserState:
    """One virtual user's variables and counters."""

    user_id: int
    shared: SharedData
    variables: dict[str, object]
    iteration: int = 0
    missing: dict[str, str] = field(default_factory=dict)  # variable -> step that failed to set it
    rows: dict[str, tuple[object, ...]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # variable -> step that captured it
    # The user's cookies; None until a response sets one (or setup's seed it): a request of a
    # user without cookies pays one test for them.
    cookies: CookieJar | None = None

    def draw_rows(self) -> None:
        """Take the next row of every feeder (at each iteration and each repetition)."""
        for name, cursor in self.shared.feeders.items():
            self.rows[name] = cursor.draw(self.user_id)

    def value_of(self, ref: VarRef) -> object:
        """The value a reference stands for, or MissingVariableError."""
        source = ref.source
        if source is VarSource.USER:
            try:
                return self.variables[ref.name]
            except KeyError:
                raise MissingVariableError(ref.name, self.missing.get(ref.name, "")) from None
        if source is VarSource.FEEDER:
            row = self.rows.get(ref.name)
            if row is None:
                self.rows[ref.name] = row = self.shared.feeders[ref.name].draw(self.user_id)
            return row[self.shared.feeders[ref.name].column(ref.field or "")]
        if source is VarSource.POOL:
            pool = self.shared.pools.get(ref.name)
            if not pool:
                key = f"pool.{ref.name}"
                raise MissingVariableError(key, self.missing.get(key, ""))
            return pool[self.shared.rng.randrange(len(pool))]
        return self._builtin(ref)

    def _builtin(self, ref: VarRef) -> object:
        name = ref.name
        if name == "uuid":
            return str(uuid.uuid4())
        if name == "user_id":
            return self.user_id
        if name == "iteration":
            return self.iteration
        if name == "timestamp":
            return time.time_ns() // 1_000_000
        if name == "random_int":
            low, high = ref.args
            return self.shared.rng.randint(low, high)
        raise MissingVariableError(name, "")  # unreachable for validated scenarios

    def set_variable(self, name: str, value: object, step: str = "") -> None:
        """Store a captured value (and the step that captured it); forget why it was missing."""
        self.variables[name] = value
        self.missing.pop(name, None)
        if step:
            self.origin[name] = step

    def mark_missing(self, name: str, step: str) -> None:
        """A capture found nothing: later uses say which step should have set it."""
        self.variables.pop(name, None)
        self.missing[name] = step
        self.origin.pop(name, None)


def seed_cookies(initial_variables: dict[str, object]) -> CookieJar | None:
    """A new user's jar: a copy of the cookies setup was left with, or None."""
    jar = initial_variables.get(SETUP_COOKIES)
    return jar.copy() if isinstance(jar, CookieJar) else None
