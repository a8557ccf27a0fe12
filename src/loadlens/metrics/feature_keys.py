"""Request features as typed values, and the one place they are written as and read from text.

The engine describes each request by a set of features (`Feature`: a kind, a name, a value)
and counts them with the request's outcome and latency; the counters, frames and result.json
key them by text (`Feature.key`). The analysis reads them back with `Feature.parse` and never
splits a key by hand. The text forms (stable: results on disk use them):

    q:KEY              the query string has KEY
    qv:KEY=VALUE       ... with the literal VALUE (written in the scenario, not templated)
    b:KEY              the JSON or form body has the top-level KEY
    bv:KEY=VALUE       ... with the literal scalar VALUE
    p:INDEX=SEGMENT    the literal path segment SEGMENT at position INDEX (`/a/b` → 0=a, 1=b)
    flow:NAME          the request ran in flow NAME
    v:VAR=SHAPE        the request used variable VAR and its value had SHAPE
    val:VAR=VALUE      ... and its value was VALUE (the first VALUES_PER_VARIABLE distinct
                       values per variable and request, short ones only; later ones give only
                       their shape)
    src:VAR@STEP       VAR came from the capture in operation STEP, or `@pool`, `@feeder`,
                       `@vars`, `@builtin`
    overlap:VAR        another request with the same value of VAR (or, for a write to a literal
                       URL, the same path: `overlap:/docs/1`) was in flight meanwhile
    h:NAME             the response carried the header NAME (`retry-after`, `ratelimit`)
    rq:BUCKET          the request was BUCKET bytes long: `rq:K` means [2^K, 2^(K+1)) bytes
    rs:BUCKET          the response was, as above
    body:truncated     the response body went past the request's `max_body` and was cut there

Request and response sizes are counted by the recorder itself (one bucket per request);
the other features come from the engine's feature plan.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

SIZE_FEATURE_CAP: Final = 40  # buckets 0..39 (2^39 bytes = 512 GiB): bigger sizes share the last


class FeatureKind(enum.StrEnum):
    """What a feature says about a request; the value is its prefix in the text form."""

    QUERY_KEY = "q"
    QUERY_VALUE = "qv"
    BODY_KEY = "b"
    BODY_VALUE = "bv"
    PATH_SEGMENT = "p"
    FLOW = "flow"
    VALUE_SHAPE = "v"
    VALUE = "val"
    SOURCE = "src"
    OVERLAP = "overlap"
    HEADER = "h"
    REQUEST_SIZE = "rq"
    RESPONSE_SIZE = "rs"
    BODY = "body"  # what happened to the response body: `body:truncated`


# How the name and the value are joined in the text form; kinds absent here have no value.
_JOINS: Final = {
    FeatureKind.QUERY_VALUE: "=",
    FeatureKind.BODY_VALUE: "=",
    FeatureKind.PATH_SEGMENT: "=",
    FeatureKind.VALUE_SHAPE: "=",
    FeatureKind.VALUE: "=",
    FeatureKind.SOURCE: "@",
}
_KINDS: Final = {kind.value: kind for kind in FeatureKind}

# Features about what the request carried (its input), as opposed to what happened to it
# (overlap, response headers, response size) or where a value came from.
INPUT_KINDS: Final = frozenset(
    {
        FeatureKind.QUERY_KEY,
        FeatureKind.QUERY_VALUE,
        FeatureKind.BODY_KEY,
        FeatureKind.BODY_VALUE,
        FeatureKind.PATH_SEGMENT,
        FeatureKind.FLOW,
        FeatureKind.VALUE_SHAPE,
        FeatureKind.VALUE,
        FeatureKind.REQUEST_SIZE,
    }
)
# Features whose value the request's sender chose: a failure that follows one is input-dependent.
VALUE_KINDS: Final = frozenset(
    {FeatureKind.QUERY_VALUE, FeatureKind.BODY_VALUE, FeatureKind.PATH_SEGMENT, FeatureKind.VALUE}
)


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature of a request."""

    kind: FeatureKind
    name: str  # a query or body key, a variable, a flow, a header, a path index, a size bucket
    value: str = ""  # the value, shape or step, for the kinds that have one

    @property
    def key(self) -> str:
        """The text form: `qv:sort=price`, `src:id@create`, `overlap:id`."""
        join = _JOINS.get(self.kind)
        if join is None:
            return f"{self.kind.value}:{self.name}"
        return f"{self.kind.value}:{self.name}{join}{self.value}"

    @staticmethod
    def parse(key: str) -> Feature | None:
        """The feature of a text form; None for a key that is not one (`other`, a newer kind)."""
        return _parse(key)

    @property
    def size_bytes(self) -> tuple[int, int] | None:
        """For a size feature, the bucket's [low, high) bytes."""
        if self.kind not in (FeatureKind.REQUEST_SIZE, FeatureKind.RESPONSE_SIZE):
            return None
        bucket = int(self.name)
        return (0 if bucket == 0 else 1 << bucket), 1 << (bucket + 1)

    def describe(self) -> str:
        """As a sentence names it: `sort=price`, `request body 4–8 KiB`, `flow checkout`."""
        kind = self.kind
        if kind in (FeatureKind.QUERY_VALUE, FeatureKind.BODY_VALUE, FeatureKind.VALUE):
            return f"{self.name}={self.value}"
        if kind is FeatureKind.PATH_SEGMENT:
            return f"path segment `{self.value}`"
        if kind is FeatureKind.FLOW:
            return f"flow `{self.name}`"
        if kind is FeatureKind.VALUE_SHAPE:
            return f"`{self.name}` shaped `{self.value}`"
        if kind is FeatureKind.QUERY_KEY:
            return f"query parameter `{self.name}`"
        if kind is FeatureKind.BODY_KEY:
            return f"body field `{self.name}`"
        sizes = self.size_bytes
        if sizes is not None:
            what = "request" if kind is FeatureKind.REQUEST_SIZE else "response"
            return f"{what} of {format_bytes(sizes[0])}–{format_bytes(sizes[1])}"
        return f"`{self.key}`"


@lru_cache(maxsize=4096)
def _parse(key: str) -> Feature | None:
    prefix, colon, rest = key.partition(":")
    kind = _KINDS.get(prefix)
    if kind is None or not colon:
        return None
    join = _JOINS.get(kind)
    if join is None:
        return Feature(kind, rest)
    name, found, value = rest.partition(join)
    return Feature(kind, name, value) if found else None


def size_bucket(size: int) -> int:
    """The size bucket of a byte count: K for [2^K, 2^(K+1)), 0 for 0 and 1 byte."""
    bucket = size.bit_length() - 1
    if bucket < 0:
        return 0
    return bucket if bucket < SIZE_FEATURE_CAP else SIZE_FEATURE_CAP - 1


def format_bytes(n: int) -> str:
    """`4 KiB`, `512 B`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def query_key(key: str) -> str:
    """`q:KEY`."""
    return Feature(FeatureKind.QUERY_KEY, key).key


def query_value(key: str, value: str) -> str:
    """`qv:KEY=VALUE`."""
    return Feature(FeatureKind.QUERY_VALUE, key, value).key


def body_key(key: str) -> str:
    """`b:KEY`."""
    return Feature(FeatureKind.BODY_KEY, key).key


def body_value(key: str, value: str) -> str:
    """`bv:KEY=VALUE`."""
    return Feature(FeatureKind.BODY_VALUE, key, value).key


def path_segment(index: int, segment: str) -> str:
    """`p:INDEX=SEGMENT`."""
    return Feature(FeatureKind.PATH_SEGMENT, str(index), segment).key


def flow(name: str) -> str:
    """`flow:NAME`."""
    return Feature(FeatureKind.FLOW, name).key


def value_shape(variable: str, shape: str) -> str:
    """`v:VAR=SHAPE`."""
    return Feature(FeatureKind.VALUE_SHAPE, variable, shape).key


def value(variable: str, text: str) -> str:
    """`val:VAR=VALUE`."""
    return Feature(FeatureKind.VALUE, variable, text).key


def source(variable: str, origin: str) -> str:
    """`src:VAR@STEP`."""
    return Feature(FeatureKind.SOURCE, variable, origin).key


def overlap(entity: str) -> str:
    """`overlap:VAR` (or `overlap:/path` for a literal URL)."""
    return Feature(FeatureKind.OVERLAP, entity).key


def header(name: str) -> str:
    """`h:NAME`."""
    return Feature(FeatureKind.HEADER, name).key


REQUEST_SIZE_KEYS: Final = tuple(
    Feature(FeatureKind.REQUEST_SIZE, str(k)).key for k in range(SIZE_FEATURE_CAP)
)
RESPONSE_SIZE_KEYS: Final = tuple(
    Feature(FeatureKind.RESPONSE_SIZE, str(k)).key for k in range(SIZE_FEATURE_CAP)
)
BODY_TRUNCATED: Final = f"{FeatureKind.BODY.value}:truncated"
HEADER_PREFIX: Final = f"{FeatureKind.HEADER.value}:"
