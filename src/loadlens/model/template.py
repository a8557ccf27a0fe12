"""Compiled string templates: `/users/{{ id }}?q={{ names.name }}`.

A template is parsed once, when the scenario is loaded, into literal parts and variable
references; rendering is then a join over the parts, never a parse. A template with no
references keeps its text in `static` so the engine can pre-encode it. A reference may pass
through filters (`{{ token | base64 }}`, `FILTERS`): a `Filtered` piece, folded into literal
text at load when what it filters is constant.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote


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


# The filters a reference may pass through (`{{ token | base64 }}`), applied left to right.
FILTERS: Final = ("base64", "urlencode", "json", "lower", "upper", "sha256")


@dataclass(frozen=True, slots=True)
class Filtered:
    """Template text passed through filters: `{{ name | lower | sha256 }}`, and the base64 of
    a Basic credential. One whose text is constant is folded into a literal at load."""

    inner: Template
    filters: tuple[str, ...]

    def __reduce__(self) -> tuple[type[Filtered], tuple[Template, tuple[str, ...]]]:
        return Filtered, (self.inner, self.filters)

    @property
    def display(self) -> str:
        """How it reads in the scenario, for names and messages."""
        inner = "".join(p if isinstance(p, str) else p.display for p in self.inner.parts)
        return " | ".join((inner, *self.filters))

    def apply(self, lookup: Callable[[VarRef], object]) -> str:
        """The filtered text (a `json` filter first sees a lone variable's typed value)."""
        single = self.inner.single_ref
        value: object = lookup(single) if single is not None else render(self.inner, lookup)
        for name in self.filters:
            value = apply_filter(name, value)
        return _text(value)


def apply_filter(name: str, value: object) -> str:
    """One filter of `FILTERS` applied to a value (ValueError for an unknown name)."""
    if name == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = _text(value)
    if name == "base64":
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    if name == "urlencode":
        return quote(text, safe="")
    if name == "lower":
        return text.lower()
    if name == "upper":
        return text.upper()
    if name == "sha256":
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    raise ValueError(f"unknown filter `{name}`: one of {', '.join(FILTERS)}")


Piece = str | VarRef | Filtered


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text, variable references and filtered pieces, in order."""

    parts: tuple[Piece, ...]
    static: str | None  # the whole text when there is no reference

    def __reduce__(self) -> tuple[type[Template], tuple[tuple[Piece, ...], str | None]]:
        # Compiled by mypyc, a frozen dataclass cannot be unpickled field by field (its
        # `__setattr__` refuses); workers receive scenarios pickled, so it is rebuilt instead.
        return Template, (self.parts, self.static)

    @classmethod
    def literal(cls, text: str) -> Template:
        """A template without references."""
        return cls(parts=(text,), static=text)

    @property
    def refs(self) -> tuple[VarRef, ...]:
        """The references, in order of appearance (those inside filtered pieces included)."""
        found: list[VarRef] = []
        for part in self.parts:
            if isinstance(part, VarRef):
                found.append(part)
            elif isinstance(part, Filtered):
                found.extend(part.inner.refs)
        return tuple(found)

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
    return "".join([_piece(p, lookup) for p in template.parts])


def _piece(part: Piece, lookup: Callable[[VarRef], object]) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, VarRef):
        return _text(lookup(part))
    return part.apply(lookup)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
