"""Request features for the diagnosis: value shapes, provenance, overlap, error templates.

How it works: `RequestFeatures` is built once per prepared request, when the scenario loads. It
holds the static features (query keys, top-level JSON body keys) as one interned tuple, and the
variable references whose values make up the rest. Per request the runner hands it the values
the encoder actually used; it maps each to a cheap key (value shape from a bounded cache, the
step that captured it, whether another in-flight request used the same value) and looks that
key up in a bounded cache of finished feature tuples, so a steady run builds no strings.
Names are documented in `loadlens.metrics.diagnostics`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from loadlens.model.redaction import MASK, SECRET_SHAPE, SENSITIVE_HEADERS, Redactor
from loadlens.model.scenario import Body, BodyKind
from loadlens.model.template import Template, VarRef, VarSource

# Names used per request are Final (see "Writing for the compiled modules" in loadlens.native).
SHAPE_CACHE_LIMIT: Final = 4096  # distinct value strings whose shape is remembered (then cleared)
FEATURE_CACHE_LIMIT: Final = 4096  # distinct per-request keys per request (cleared when full)
LONG_VALUE: Final = 64  # a value longer than this has the shape `<long>`
SNIPPET_CHARS: Final = 300  # response text kept for error templates and samples
SAMPLE_VALUE_CHARS: Final = 80  # a variable's value as a sample shows it

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_FULL: Final = re.compile(_UUID)
_ALNUM: Final = re.compile(r"[0-9A-Za-z]+")
_DIGITS: Final = re.compile(r"\d+")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_HEX_LETTERS: Final = 8  # a token of only a-f letters this long is taken for a hex id
_TEMPLATE = re.compile(
    rf"(?P<uuid>{_UUID})"
    r"|(?P<hex>(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{6,}(?![0-9A-Za-z]))"
    r"|(?P<n>\d+(?:\.\d+)?)"
)
_TEMPLATE_MASKS = {"uuid": "<uuid>", "hex": "<hex>", "n": "<n>"}
_RATELIMIT_PREFIXES: Final = (b"ratelimit", b"x-ratelimit")

_shapes: Final[dict[str, str]] = {}


def shape(value: str) -> str:
    """The value's shape: `doc_1a2b3c4d` → `doc_<hex>`, `user-42` → `user-<int>` (cached)."""
    found = _shapes.get(value)
    if found is None:
        if len(_shapes) >= SHAPE_CACHE_LIMIT:
            _shapes.clear()
        found = _shapes[value] = _shape_of(value)
    return found


def _shape_of(value: str) -> str:
    if len(value) > LONG_VALUE:
        return "<long>"
    if _UUID_FULL.fullmatch(value):
        return "<uuid>"
    out = _ALNUM.sub(_shape_token, _UUID_FULL.sub("<uuid>", value))
    if not out.isascii():  # other scripts' digits: no digit may survive in a shape
        out = "".join("<int>" if c.isdigit() else c for c in _DIGITS.sub("<int>", out))
    return out


# -- the redaction hook: secrets are masked before any shape is derived from a value --------


def redacted_shape(value: object, secret: bool, redactor: Redactor) -> str:
    """The shape of a value once its secrets are masked: a secret variable's value is
    `<secret>` whatever it holds; in any other value each form of a known secret becomes
    `<secret>` first, so a shape keeps no letter of one (`user-<secret>`)."""
    if secret:
        return SECRET_SHAPE
    text = value_text(value)
    if redactor.secrets:
        text = redactor.for_shape(text)
    return shape(text)


def _shape_token(match: re.Match[str]) -> str:
    token = match.group()
    if token.isdigit():
        return "<int>"
    if not any(c.isdigit() for c in token):
        # Random hex ids are letters only now and then: 8+ hex letters are an id, not a word.
        return "<hex>" if len(token) >= _HEX_LETTERS and all(c in _HEX for c in token) else token
    if len(token) >= 6 and all(c in _HEX for c in token):
        return "<hex>"
    return _DIGITS.sub("<int>", token)  # letters kept: `user42` → `user<int>`


def error_template(text: str, redactor: Redactor) -> str:
    """A failure's text (first 300 chars) redacted, with numbers, hex ids and UUIDs masked."""
    return _TEMPLATE.sub(_mask, redactor.text(text[:SNIPPET_CHARS]))


def _mask(match: re.Match[str]) -> str:
    return _TEMPLATE_MASKS[match.lastgroup or "n"]


def snippet(body: bytes, redactor: Redactor) -> str:
    """The first 300 characters of a body, decoded and redacted."""
    return redactor.text(body[: SNIPPET_CHARS * 4].decode("utf-8", "replace")[:SNIPPET_CHARS])


class InFlight:
    """The requests of one worker in flight with one (variable, value): how many now, and how
    many started since the value was last idle."""

    __slots__ = ("count", "starts")

    def __init__(self) -> None:
        self.count = 0
        self.starts = 0


class Held:
    """An entity a request holds while in flight, and what it saw of it when it started.

    (A plain class, not a NamedTuple: compiled, it is built in C, where a NamedTuple's
    `__new__` would run as Python code, once per request.)"""

    __slots__ = ("entity", "feature", "key", "overlapped", "starts")

    def __init__(
        self, key: tuple[str, str], entity: InFlight, starts: int, overlapped: bool, feature: str
    ) -> None:
        self.key = key
        self.entity = entity
        self.starts = starts  # the entity's starts, this request's own included
        self.overlapped = overlapped  # another request with the value was in flight then
        self.feature = feature  # `overlap:VAR`


def release(
    inflight: dict[tuple[str, str], InFlight], held: list[Held], features: tuple[str, ...]
) -> tuple[str, ...]:
    """Give back the entities a request held in flight (idle ones are removed); its
    `features` with the `overlap:` ones it earned after it started added: another request
    with its value began meanwhile.

    Overlap goes both ways: of two requests that overlapped, the one that started first did
    not see the other then, and it may be the one that fails (the second to commit, say)."""
    for held_entity in held:
        entity = held_entity.entity
        entity.count -= 1
        if not entity.count:
            del inflight[held_entity.key]
        if not held_entity.overlapped and entity.starts > held_entity.starts:
            features = (*features, held_entity.feature)
    return features


def header_features(headers: list[tuple[bytes, bytes]]) -> tuple[str, ...]:
    """`h:retry-after` / `h:ratelimit` when the response carried those headers."""
    retry = limit = False
    for name, _ in headers:
        if name == b"retry-after":
            retry = True
        elif name.startswith(_RATELIMIT_PREFIXES):
            limit = True
    if retry:
        return ("h:retry-after", "h:ratelimit") if limit else ("h:retry-after",)
    return ("h:ratelimit",) if limit else ()


def request_target(data: bytes) -> str:
    """The path and query of an encoded request (`GET /a?b=1 HTTP/1.1` → `/a?b=1`)."""
    line = data[: data.find(b"\r\n")]
    parts = line.split(b" ")
    return parts[1].decode("latin-1") if len(parts) >= 2 else ""


def value_text(value: object) -> str:
    """A variable's value as text, as the templates render it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class UsedVariable:
    """A variable reference a request uses, and what its features are made of."""

    ref: VarRef
    name: str  # as the scenario writes it: `id`, `pool.user_ids`, `names.name`
    entity: bool  # a user/feeder/pool value in the URL or body: counted for `overlap:`
    shaped: bool  # `v:` feature recorded (not for values sent only in sensitive headers)
    source: str  # `@pool`, `@feeder`, `@builtin`; "" for user variables (looked up per request)
    overlap: str  # `overlap:NAME`, the feature of sharing the value with an in-flight request
    secret: bool = False  # its values are secrets: shaped `<secret>`, shown masked


@dataclass(slots=True)
class RequestFeatures:
    """One request's features: the static part computed at load, the rest per request."""

    static: tuple[str, ...]
    variables: tuple[UsedVariable, ...]
    redactor: Redactor
    _cache: dict[tuple[object, ...], tuple[str, ...]] = field(default_factory=dict)

    def features(
        self,
        used: dict[VarRef, object],
        origins: dict[str, str],
        inflight: dict[tuple[str, str], InFlight],
    ) -> tuple[tuple[str, ...], list[Held]]:
        """The request's interned feature tuple, and the entities it now holds in flight.

        `inflight` counts, per (variable, value), the requests of this worker in flight; the
        caller gives the held entities back to `release` when the response is in.
        """
        key: list[object] = []
        held: list[Held] = []
        for var in self.variables:
            value = used.get(var.ref)
            if var.shaped:
                key.append(
                    None if value is None else redacted_shape(value, var.secret, self.redactor)
                )
            if not var.source:
                key.append(origins.get(var.ref.name, "vars"))
            if var.entity:
                if value is None:
                    key.append(False)
                    continue
                entity_key = (var.name, value_text(value))
                entity = inflight.get(entity_key)
                if entity is None:
                    entity = inflight[entity_key] = InFlight()
                overlapped = entity.count > 0
                entity.count += 1
                entity.starts += 1
                held.append(Held(entity_key, entity, entity.starts, overlapped, var.overlap))
                key.append(overlapped)
        frozen = tuple(key)
        found = self._cache.get(frozen)
        if found is None:
            if len(self._cache) >= FEATURE_CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[frozen] = self._build(frozen)
        return found, held

    def _build(self, key: tuple[object, ...]) -> tuple[str, ...]:
        out = list(self.static)
        parts = iter(key)
        for var in self.variables:
            if var.shaped:
                value_shape = next(parts)
                if value_shape is not None:
                    out.append(f"v:{var.name}={value_shape}")
            out.append(f"src:{var.name}@{next(parts) if not var.source else var.source}")
            if var.entity and next(parts):
                out.append(var.overlap)
        return tuple(dict.fromkeys(out))

    def sample_variables(self, used: dict[VarRef, object]) -> dict[str, str]:
        """The variables used → their values, redacted and cut to 80 characters."""
        out: dict[str, str] = {}
        for var in self.variables:
            if var.ref in used:
                text = value_text(used[var.ref]) if var.shaped and not var.secret else MASK
                out[var.name] = self.redactor.text(text)[:SAMPLE_VALUE_CHARS]
        return out


def plan_features(
    url: Template,
    query: tuple[tuple[str, Template], ...],
    headers: Iterable[tuple[bytes, Template]],
    body: Body | None,
    redactor: Redactor,
) -> RequestFeatures:
    """The feature plan of one request, computed when the scenario loads."""
    static: list[str] = []
    if url.static is not None and "?" in url.static:
        static.extend(f"q:{key}" for key in _query_keys(url.static.split("?", 1)[1]))
    else:
        literal = "".join(p for p in url.parts if isinstance(p, str))
        if "?" in literal:
            static.extend(f"q:{key}" for key in _query_keys(literal.split("?", 1)[1]))
    static.extend(f"q:{key}" for key, _ in query)
    if body is not None and body.kind is BodyKind.JSON and isinstance(body.json, dict):
        static.extend(f"b:{key}" for key in body.json)
    elif body is not None and body.kind is BodyKind.FORM:
        static.extend(f"b:{key}" for key, _ in body.form)
    entity_refs = [*url.refs, *(r for _, t in query for r in t.refs), *_body_refs(body)]
    sensitive_refs = [
        r for name, t in headers if name.decode("latin-1") in SENSITIVE_HEADERS for r in t.refs
    ]
    other_refs = [r for _, t in headers for r in t.refs]
    variables: dict[VarRef, UsedVariable] = {}
    for ref in [*entity_refs, *other_refs]:
        if ref in variables:
            continue
        variables[ref] = UsedVariable(
            ref=ref,
            name=ref.display,
            entity=ref in entity_refs and ref.source is not VarSource.BUILTIN,
            shaped=ref in entity_refs or ref not in sensitive_refs,
            source=_SOURCES[ref.source],
            overlap=f"overlap:{ref.display}",
            secret=ref.display in redactor.variables,
        )
    return RequestFeatures(tuple(dict.fromkeys(static)), tuple(variables.values()), redactor)


_SOURCES = {VarSource.USER: "", VarSource.POOL: "pool", VarSource.FEEDER: "feeder"}
_SOURCES[VarSource.BUILTIN] = "builtin"


def _query_keys(query: str) -> list[str]:
    return [pair.split("=", 1)[0] for pair in query.split("&") if pair]


def _body_refs(body: Body | None) -> list[VarRef]:
    if body is None:
        return []
    if body.kind is BodyKind.FORM:
        return [r for _, t in body.form for r in t.refs]
    if body.kind is BodyKind.RAW:
        return list(body.raw.refs) if body.raw is not None else []
    out: list[VarRef] = []
    stack: list[object] = [body.json]
    while stack:
        value = stack.pop()
        if isinstance(value, Template):
            out.extend(value.refs)
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return out
