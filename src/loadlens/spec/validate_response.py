"""What a step does with its response: `expect:` (statuses, checks) and `capture:`."""

from __future__ import annotations

import re

from loadlens.model.jsonpath import JsonPathSyntaxError, parse_jsonpath
from loadlens.model.scenario import (
    Capture,
    Check,
    CheckKind,
    Expectation,
    Extractor,
    ExtractorKind,
)
from loadlens.spec.context import Context, Scope
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, join

_EXPECT_KEYS = ("status", "checks")
_EXTRACTOR_KEYS = ("jsonpath", "regex", "header", "cookie")
_CHECK_KEYS = ("name", *_EXTRACTOR_KEYS, "group", "exists", "equals", "contains")
_CAPTURE_KEYS = (*_EXTRACTOR_KEYS, "group", "all", "secret")
_TARGET = re.compile(r"(pool\.)?([A-Za-z_][A-Za-z0-9_]*)")


def read_expectation(reader: Reader, node: Node, key: str) -> Expectation:
    """`{status: 201 | [200, 409], checks: [...]}`; a bare status or list is a shorthand."""
    if not isinstance(node.value, dict):
        return Expectation(statuses=_statuses(reader, node, key))
    fields = reader.mapping(node, key, _EXPECT_KEYS) or {}
    statuses = None
    if "status" in fields:
        statuses = _statuses(reader, fields["status"], join(key, "status"))
    checks: list[Check] = []
    if "checks" in fields:
        for index, item in enumerate(reader.sequence(fields["checks"], join(key, "checks")) or []):
            check = _check(reader, item, join(join(key, "checks"), index))
            if check is not None:
                checks.append(check)
    return Expectation(statuses=statuses, checks=tuple(checks))


def _statuses(reader: Reader, node: Node, key: str) -> frozenset[int] | None:
    items = node.value if isinstance(node.value, list) else [node]
    codes: set[int] = set()
    for index, item in enumerate(items):
        where = join(key, index) if isinstance(node.value, list) else key
        code = reader.integer(item, where)
        if code is None:
            continue
        if not 100 <= code <= 599:
            reader.report(item, where, f"status {code} is outside 100-599")
            continue
        codes.add(code)
    if not codes:
        if not items:
            reader.report(node, key, "expected at least one status")
        return None
    return frozenset(codes)


def _check(reader: Reader, node: Node, key: str) -> Check | None:
    fields = reader.mapping(node, key, _CHECK_KEYS, what="a check mapping")
    if fields is None:
        return None
    before = len(reader.problems)
    extractor = read_extractor(reader, node, fields, key, optional=True)
    kinds = [name for name in ("exists", "equals", "contains") if name in fields]
    if len(kinds) != 1:
        reader.report(node, key, "a check needs exactly one of `exists`, `equals`, `contains`")
        return None
    kind = CheckKind(kinds[0])
    value_node = fields[kinds[0]]
    value: object = value_node.value
    if kind is CheckKind.EXISTS:
        if reader.boolean(value_node, join(key, "exists")) is False:
            reader.report(value_node, join(key, "exists"), "only `exists: true` is supported")
        value = None
    elif kind is CheckKind.EQUALS and extractor is None:
        reader.report(node, key, "`equals` needs a `jsonpath`, `regex`, `header` or `cookie`")
    elif isinstance(value, dict | list):
        reader.report(value_node, join(key, kinds[0]), "expected a single value")
    name = None
    if "name" in fields:
        name = reader.string(fields["name"], join(key, "name"))
    if len(reader.problems) > before:
        return None
    if name is None:
        source = extractor.expression if extractor else "body"
        name = f"{source} {kind.value}" + ("" if value is None else f" {value}")
    return Check(name=name, kind=kind, extractor=extractor, value=value)


def read_extractor(
    reader: Reader, node: Node, fields: dict[str, Node], key: str, *, optional: bool = False
) -> Extractor | None:
    """The one of `jsonpath`, `regex` (with `group`), `header`, `cookie` given in `fields`."""
    given = [name for name in _EXTRACTOR_KEYS if name in fields]
    if len(given) > 1:
        reader.report(
            node, key, f"give one of `jsonpath`, `regex`, `header`, `cookie`, not {given}"
        )
        return None
    if "group" in fields and given != ["regex"]:
        reader.report(fields["group"], join(key, "group"), "`group` goes with `regex`", at_key=True)
    if not given:
        if not optional:
            reader.report(node, key, "expected one of `jsonpath`, `regex`, `header`, `cookie`")
        return None
    kind = given[0]
    where = join(key, kind)
    text = reader.string(fields[kind], where)
    if text is None:
        return None
    if kind == "jsonpath":
        return jsonpath_extractor(reader, fields[kind], where, text)
    if kind == "header":
        return Extractor(ExtractorKind.HEADER, text.strip().lower())
    if kind == "cookie":  # a cookie's name is case-sensitive (RFC 6265)
        return Extractor(ExtractorKind.COOKIE, text.strip())
    try:
        pattern = re.compile(text)
    except re.error as error:
        reader.report(fields[kind], where, f"bad regular expression: {error}")
        return None
    group = 1 if pattern.groups else 0
    if "group" in fields:
        group = reader.integer(fields["group"], join(key, "group"), minimum=0) or 0
        if group > pattern.groups:
            reader.report(
                fields["group"],
                join(key, "group"),
                f"the pattern has {pattern.groups} group(s), not {group}",
            )
            return None
    return Extractor(ExtractorKind.REGEX, text, group=group)


def jsonpath_extractor(reader: Reader, node: Node, key: str, text: str) -> Extractor | None:
    """A compiled JSONPath extractor, or None with a problem."""
    try:
        path = parse_jsonpath(text)
    except JsonPathSyntaxError as error:
        reader.report(node, key, f"bad JSONPath `{text}`: {error}")
        return None
    return Extractor(ExtractorKind.JSONPATH, text, jsonpath=path)


def read_captures(ctx: Context, node: Node, key: str, scope: Scope) -> tuple[Capture, ...]:
    """`{id: $.id, pool.ids: {jsonpath: ..., all: true}, etag: {header: etag}}`."""
    reader = ctx.reader
    if not isinstance(node.value, dict):
        reader.report(node, key, "expected a mapping of variable names to extractors")
        return ()
    captures: list[Capture] = []
    for target, child in node.value.items():
        where = join(key, target)
        match = _TARGET.fullmatch(target)
        if match is None:
            reader.report(child, where, f"`{target}` is not a variable or `pool.NAME`", at_key=True)
            continue
        into_pool, name = match.group(1) is not None, match.group(2)
        capture = _capture(reader, child, where, name, into_pool)
        if capture is None:
            continue
        captures.append(capture)
        if into_pool:
            ctx.pool_writes.add(name)
        else:
            scope.define(name)
    return tuple(captures)


def _capture(reader: Reader, node: Node, key: str, name: str, into_pool: bool) -> Capture | None:
    location = reader.location(node)
    if isinstance(node.value, str):
        extractor = jsonpath_extractor(reader, node, key, node.value)
        if extractor is None:
            return None
        return Capture(name, extractor, into_pool=into_pool, location=location)
    fields = reader.mapping(node, key, _CAPTURE_KEYS, what="a JSONPath or an extractor mapping")
    if fields is None:
        return None
    extractor = read_extractor(reader, node, fields, key)
    all_matches = False
    if "all" in fields:
        all_matches = bool(reader.boolean(fields["all"], join(key, "all")))
        if all_matches and not into_pool:
            reader.report(fields["all"], join(key, "all"), "`all` is for `pool.NAME` captures")
            return None
        if all_matches and extractor and extractor.kind is not ExtractorKind.JSONPATH:
            reader.report(fields["all"], join(key, "all"), "`all` is for `jsonpath` captures")
            return None
    # `secret: true`: the captured value is redacted wherever loadlens writes (a token).
    secret = (
        bool(reader.boolean(fields["secret"], join(key, "secret"))) if "secret" in fields else False
    )
    if extractor is None:
        return None
    return Capture(
        name,
        extractor,
        into_pool=into_pool,
        all_matches=all_matches,
        location=location,
        secret=secret,
    )
