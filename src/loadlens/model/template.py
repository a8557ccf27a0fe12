"""Compiled string templates: `/users/{{ id }}?q={{ names.name }}`.

A template is parsed once, when the scenario is loaded, into literal parts and variable
references; rendering is then a join over the parts, never a parse. A template with no
references keeps its text in `static` so the engine can pre-encode it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass


class VarSource(enum.Enum):
    """Where a variable's value comes from."""

    USER = "user"  # a capture or a `set` into the virtual user's own variables
    POOL = "pool"  # `pool.NAME`: a random value from a pool shared by all users
    FEEDER = "feeder"  # `FEEDER.COLUMN`: the current row of a data feeder
    BUILTIN = "builtin"  # uuid, user_id, iteration, timestamp, random_int(a, b)


@dataclass(frozen=True, slots=True)
class VarRef:
    """A reference to one variable inside a template.

    It keys the engine's per-request dicts (the values a request used, its features), so its
    hash is computed once: a dataclass's own `__hash__` builds a tuple and calls the Enum's
    Python-level `__hash__` on every lookup. The cached hash is never pickled (`__reduce__`):
    string hashes differ between processes.
    """

    source: VarSource
    name: str  # user var name, pool name, feeder name, or builtin name
    field: str | None = None  # the feeder column
    args: tuple[int, ...] = ()  # builtin arguments, e.g. random_int(1, 100)
    _hash: int = dataclasses.field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = (self.source.value, self.name, self.field, self.args)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[VarRef], tuple[VarSource, str, str | None, tuple[int, ...]]]:
        return VarRef, (self.source, self.name, self.field, self.args)

    @property
    def display(self) -> str:
        """How the reference reads in the scenario, for error messages."""
        if self.source is VarSource.POOL:
            return f"pool.{self.name}"
        if self.source is VarSource.FEEDER:
            return f"{self.name}.{self.field}"
        if self.args:
            return f"{self.name}({', '.join(map(str, self.args))})"
        return self.name


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text and variable references, in order."""

    parts: tuple[str | VarRef, ...]
    static: str | None  # the whole text when there is no reference

    def __reduce__(self) -> tuple[type[Template], tuple[tuple[str | VarRef, ...], str | None]]:
        # Compiled by mypyc, a frozen dataclass cannot be unpickled field by field (its
        # `__setattr__` refuses); workers receive scenarios pickled, so it is rebuilt instead.
        return Template, (self.parts, self.static)

    @classmethod
    def literal(cls, text: str) -> Template:
        """A template without references."""
        return cls(parts=(text,), static=text)

    @property
    def refs(self) -> tuple[VarRef, ...]:
        """The references, in order of appearance."""
        return tuple(p for p in self.parts if isinstance(p, VarRef))

    @property
    def single_ref(self) -> VarRef | None:
        """The reference when the template is exactly one `{{ var }}` (its value keeps its type)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], VarRef):
            return self.parts[0]
        return None


def render(template: Template, lookup: Callable[[VarRef], object]) -> str:
    """The template's text with each reference replaced by `str(lookup(ref))`."""
    if template.static is not None:
        return template.static
    return "".join(p if isinstance(p, str) else _text(lookup(p)) for p in template.parts)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
