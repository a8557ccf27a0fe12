"""Request features for the diagnosis: value shapes, provenance, overlap, error templates.

How it works: `RequestFeatures` is built once per prepared request, when the scenario loads. It
holds the static features (query keys and literal values, top-level body keys and literal
values, literal path segments, the flow) as one interned tuple, and the variable references
whose values make up the rest. Per request the runner hands it the values the encoder actually
used; it maps each to a cheap key (value shape from a bounded cache, the value itself while the
variable has shown at most VALUES_PER_VARIABLE distinct ones, the step that captured it,
whether another in-flight request used the same value) and looks that key up in a bounded
cache of finished feature tuples, so a steady run builds no strings. A write to a literal URL
(no variable in it) is an entity too: writes to the same path in flight together overlap.
Feature names are made by `loadlens.metrics.feature_keys`, the one place they are written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from loadlens.metrics import feature_keys as fk
from loadlens.model.redaction import MASK, SECRET_SHAPE, SENSITIVE_HEADERS, Redactor
from loadlens.model.scenario import Body, BodyKind
from loadlens.model.template import Template, VarRef, VarSource

# Names used per request are Final (see "Writing for the compiled modules" in loadlens.native).
SHAPE_CACHE_LIMIT: Final = 4096  # distinct value strings whose shape is remembered (then cleared)
FEATURE_CACHE_LIMIT: Final = 4096  # distinct per-request keys per request (cleared when full)
LONG_VALUE: Final = 64  # a value longer than this has the shape `<long:N+>` (N: its length's
# power of two), so a 100-character value and a 5,000-character one differ
VALUES_PER_VARIABLE: Final = 16  # distinct values per variable and request recorded as `val:`
VALUE_CHARS: Final = 40  # longer values (and literal query/body values) are not features
_WRITE_METHODS: Final = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
_UNIQUE_BUILTINS: Final = frozenset({"uuid"})  # never shared between requests: no entity
_SERIAL_BUILTINS: Final = frozenset({"uuid", "timestamp", "iteration"})  # no `val:` features
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
        return f"<long:{1 << (len(value).bit_length() - 1)}+>"
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
        self.feature = feature  # `overlap:VAR` (or `overlap:/path`)


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
        return _RETRY_AND_LIMIT if limit else _RETRY
    return _LIMIT if limit else ()


_RETRY: Final = (fk.header("retry-after"),)
_LIMIT: Final = (fk.header("ratelimit"),)
_RETRY_AND_LIMIT: Final = (*_RETRY, *_LIMIT)


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
    entity: bool  # a value in the URL, query or body (not a uuid): counted for `overlap:`
    shaped: bool  # `v:` feature recorded (not for values sent only in sensitive headers)
    valued: bool  # `val:` features recorded (URL, query and body values; not serial builtins)
    source: str  # `@pool`, `@feeder`, `@builtin`; "" for user variables (looked up per request)
    overlap: str  # `overlap:NAME`, the feature of sharing the value with an in-flight request
    secret: bool = False  # its values are secrets: shaped `<secret>`, shown masked


@dataclass(slots=True)
class RequestFeatures:
    """One request's features: the static part computed at load, the rest per request."""

    static: tuple[str, ...]
    variables: tuple[UsedVariable, ...]
    redactor: Redactor
    # For a write to a literal URL: its (entity key, `overlap:/path` feature); else None.
    literal_entity: tuple[tuple[str, str], str] | None = None
    _cache: dict[tuple[object, ...], tuple[str, ...]] = field(default_factory=dict)
    # Per variable (in `variables` order): value text → its `val:` feature, at most
    # VALUES_PER_VARIABLE entries; a value past the cap is left out (its shape still counts).
    _values: list[dict[str, str]] = field(default_factory=list)

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
        if not self._values:
            self._values = [{} for _ in self.variables]
        for index, var in enumerate(self.variables):
            value = used.get(var.ref)
            text = None if value is None else value_text(value)
            if var.shaped:
                key.append(
                    None if value is None else redacted_shape(value, var.secret, self.redactor)
                )
            if var.valued:
                key.append(None if text is None else self._value_feature(index, var, text))
            if not var.source:
                key.append(origins.get(var.ref.name, "vars"))
            if var.entity:
                if text is None:
                    key.append(False)
                    continue
                key.append(_hold(inflight, (var.name, text), held, var.overlap))
        literal = self.literal_entity
        if literal is not None:
            key.append(_hold(inflight, literal[0], held, literal[1]))
        frozen = tuple(key)
        found = self._cache.get(frozen)
        if found is None:
            if len(self._cache) >= FEATURE_CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[frozen] = self._build(frozen)
        return found, held

    def _value_feature(self, index: int, var: UsedVariable, text: str) -> str | None:
        known = self._values[index]
        found = known.get(text)
        if found is None and len(known) < VALUES_PER_VARIABLE and len(text) <= VALUE_CHARS:
            found = known[text] = fk.value(var.name, self.redactor.text(text))
        return found

    def _build(self, key: tuple[object, ...]) -> tuple[str, ...]:
        out = list(self.static)
        parts = iter(key)
        for var in self.variables:
            if var.shaped:
                value_shape = next(parts)
                if value_shape is not None:
                    out.append(fk.value_shape(var.name, str(value_shape)))
            if var.valued:
                value_feature = next(parts)
                if value_feature is not None:
                    out.append(str(value_feature))
            out.append(fk.source(var.name, str(next(parts)) if not var.source else var.source))
            if var.entity and next(parts):
                out.append(var.overlap)
        if self.literal_entity is not None and next(parts):
            out.append(self.literal_entity[1])
        return tuple(dict.fromkeys(out))

    def sample_variables(self, used: dict[VarRef, object]) -> dict[str, str]:
        """The variables used → their values, redacted and cut to 80 characters."""
        out: dict[str, str] = {}
        for var in self.variables:
            if var.ref in used:
                text = value_text(used[var.ref]) if var.shaped and not var.secret else MASK
                out[var.name] = self.redactor.text(text)[:SAMPLE_VALUE_CHARS]
        return out


def _hold(
    inflight: dict[tuple[str, str], InFlight],
    entity_key: tuple[str, str],
    held: list[Held],
    feature: str,
) -> bool:
    """Count a request in flight with an entity; whether another one already was."""
    entity = inflight.get(entity_key)
    if entity is None:
        entity = inflight[entity_key] = InFlight()
    overlapped = entity.count > 0
    entity.count += 1
    entity.starts += 1
    held.append(Held(entity_key, entity, entity.starts, overlapped, feature))
    return overlapped


_LITERAL_ENTITY: Final = "<url>"  # the entity name of writes to a literal URL (not a variable)


def plan_features(
    url: Template,
    query: tuple[tuple[str, Template], ...],
    headers: Iterable[tuple[bytes, Template]],
    body: Body | None,
    redactor: Redactor,
    method: bytes = b"GET",
    flow: str = "",
) -> RequestFeatures:
    """The feature plan of one request, computed when the scenario loads."""
    static: list[str] = []
    literal = "".join(p if isinstance(p, str) else "\0" for p in url.parts)
    path, _, literal_query = literal.partition("?")
    for index, segment in enumerate(path.strip("/").split("/")):
        if segment and "\0" not in segment and len(segment) <= VALUE_CHARS:
            static.append(fk.path_segment(index, redactor.text(segment)))
    for pair in literal_query.split("&"):
        key, equals, value = pair.partition("=")
        if key and "\0" not in key:
            static.append(fk.query_key(key))
            if equals and "\0" not in value:
                static.extend(_literal_value(fk.query_value, key, value, redactor))
    for key, template in query:
        static.append(fk.query_key(key))
        if template.static is not None:
            static.extend(_literal_value(fk.query_value, key, template.static, redactor))
    static.extend(_body_features(body, redactor))
    if flow:
        static.append(fk.flow(flow))
    entity_refs = [*url.refs, *(r for _, t in query for r in t.refs), *_body_refs(body)]
    sensitive_refs = [
        r for name, t in headers if name.decode("latin-1") in SENSITIVE_HEADERS for r in t.refs
    ]
    other_refs = [r for _, t in headers for r in t.refs]
    variables: dict[VarRef, UsedVariable] = {}
    for ref in [*entity_refs, *other_refs]:
        if ref in variables:
            continue
        builtin = ref.source is VarSource.BUILTIN
        in_entity = ref in entity_refs
        secret = ref.display in redactor.variables
        variables[ref] = UsedVariable(
            ref=ref,
            name=ref.display,
            entity=in_entity and not (builtin and ref.name in _UNIQUE_BUILTINS),
            shaped=in_entity or ref not in sensitive_refs,
            valued=in_entity and not secret and not (builtin and ref.name in _SERIAL_BUILTINS),
            source=_SOURCES[ref.source],
            overlap=fk.overlap(ref.display),
            secret=secret,
        )
    literal_entity = None
    if not url.refs and method in _WRITE_METHODS:
        literal_entity = ((_LITERAL_ENTITY, path), fk.overlap(redactor.text(path)))
    return RequestFeatures(
        tuple(dict.fromkeys(static)), tuple(variables.values()), redactor, literal_entity
    )


def _literal_value(
    make: Callable[[str, str], str], key: str, value: object, redactor: Redactor
) -> list[str]:
    """A literal value's feature, unless it is long or redacted (a secret is no feature)."""
    text = value_text(value)
    if not text or len(text) > VALUE_CHARS or redactor.text(text) != text:
        return []
    return [make(key, text)]


def _body_features(body: Body | None, redactor: Redactor) -> list[str]:
    """`b:KEY` for each top-level key, `bv:KEY=VALUE` for its literal scalar value."""
    out: list[str] = []
    if body is None:
        return out
    if body.kind is BodyKind.JSON and isinstance(body.json, dict):
        for key, value in body.json.items():
            out.append(fk.body_key(key))
            if isinstance(value, Template):
                if value.static is not None:
                    out.extend(_literal_value(fk.body_value, key, value.static, redactor))
            elif isinstance(value, str | int | float | bool):
                out.extend(_literal_value(fk.body_value, key, value, redactor))
    elif body.kind is BodyKind.FORM:
        for key, template in body.form:
            out.append(fk.body_key(key))
            if template.static is not None:
                out.extend(_literal_value(fk.body_value, key, template.static, redactor))
    elif body.kind is BodyKind.MULTIPART:
        for part in body.parts:
            out.append(fk.body_key(part.name))
            if part.value is not None and part.value.static is not None:
                out.extend(_literal_value(fk.body_value, part.name, part.value.static, redactor))
    return out


_SOURCES = {VarSource.USER: "", VarSource.POOL: "pool", VarSource.FEEDER: "feeder"}
_SOURCES[VarSource.BUILTIN] = "builtin"


def _body_refs(body: Body | None) -> list[VarRef]:
    if body is None:
        return []
    if body.kind is BodyKind.FORM:
        return [r for _, t in body.form for r in t.refs]
    if body.kind is BodyKind.RAW:
        return list(body.raw.refs) if body.raw is not None else []
    if body.kind is BodyKind.MULTIPART:
        templates = [t for p in body.parts for t in (p.value, p.filename) if t is not None]
        return [r for t in templates for r in t.refs]
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
