"""`invariants:`, `ledger:` and `reconcile:` → InvariantSpec values and the LedgerSpec.

An invariant gives exactly one of `sql` (rows are violations), `scalar` (with `expect`) or
`http` (with `expect`, and `path`, default `$`). `db` and `http` may hold `{{ name }}`
placeholders filled at check time; an SQL invariant without `db` uses the variable `db`.
"""

from __future__ import annotations

from loadlens.model.integrity import (
    DEFAULT_MAX_EXAMPLES,
    InvariantKind,
    InvariantSpec,
    LedgerRule,
    LedgerSpec,
    Moment,
    ReconcileSpec,
)
from loadlens.model.jsonpath import JsonPath, JsonPathSyntaxError, parse_jsonpath
from loadlens.model.observation import ExpressionError, parse_expectation
from loadlens.model.template import Template
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, did_you_mean, join
from loadlens.spec.templates import TemplateSyntaxError, compile_template
from loadlens.spec.urls import url_problem

_INVARIANT_KEYS = ("name", "db", "sql", "scalar", "http", "path", "expect", "when", "examples")
_RULE_KEYS = ("operation", "when_status", "entity", "field", "delta")
_RECONCILE_KEYS = ("db", "query")
_MOMENTS = tuple(m.value for m in Moment)


def read_invariants(
    reader: Reader, node: Node, key: str = "invariants"
) -> tuple[InvariantSpec, ...]:
    """Every readable invariant; problems recorded for the rest."""
    items = reader.sequence(node, key) or []
    specs: list[InvariantSpec] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        spec = _invariant(reader, item, join(key, index))
        if spec is None:
            continue
        if spec.name in names:
            reader.report(
                item, join(join(key, index), "name"), f"duplicate invariant `{spec.name}`"
            )
            continue
        names.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def _invariant(reader: Reader, node: Node, key: str) -> InvariantSpec | None:
    fields = reader.mapping(node, key, _INVARIANT_KEYS, required=("name",), what="an invariant")
    if fields is None or "name" not in fields:
        return None
    name = reader.string(fields["name"], join(key, "name"))
    kinds = [kind for kind in ("sql", "scalar", "http") if kind in fields]
    if len(kinds) != 1:
        reader.report(node, key, "an invariant needs exactly one of `sql`, `scalar`, `http`")
        return None
    kind = InvariantKind(kinds[0])
    source = reader.string(fields[kinds[0]], join(key, kinds[0]))
    when = _when(reader, fields["when"], join(key, "when")) if "when" in fields else None
    examples = DEFAULT_MAX_EXAMPLES
    if "examples" in fields:
        examples = reader.integer(fields["examples"], join(key, "examples"), minimum=0) or 0
    expect_text, expect = "", None
    if kind is InvariantKind.SQL_ROWS:
        if "expect" in fields:
            reader.report(
                fields["expect"],
                join(key, "expect"),
                "`sql:` rows are violations; use `scalar:` with `expect`",
                at_key=True,
            )
    elif "expect" not in fields:
        reader.report(node, join(key, "expect"), f"`{kind.value}:` needs `expect`", "e.g. `== 0`")
        return None
    else:
        expect_text = reader.string(fields["expect"], join(key, "expect")) or ""
        try:
            expect = parse_expectation(expect_text)
        except ExpressionError as error:
            reader.report(fields["expect"], join(key, "expect"), f"bad expectation: {error}")
            return None
    path = None
    if kind is InvariantKind.HTTP:
        for extra in ("db",):
            if extra in fields:
                reader.report(fields[extra], join(key, extra), "an `http` invariant has no `db`")
        path = _path(reader, fields.get("path"), join(key, "path"))
        if source is not None and not source.startswith(("http://", "https://", "{{")):
            reader.report(
                fields["http"],
                join(key, "http"),
                f"expected an http(s) URL: `{source}`",
                "or `{{ target }}/path`",
            )
            return None
        problem = None if source is None or "{{" in source else url_problem(source)
        if problem is not None:
            reader.report(fields["http"], join(key, "http"), problem)
            return None
    elif "path" in fields:
        reader.report(fields["path"], join(key, "path"), "`path` is for `http` invariants")
    db = "{{ db }}"
    if "db" in fields and kind is not InvariantKind.HTTP:
        db = reader.string(fields["db"], join(key, "db")) or db
    if name is None or source is None or (when is None and "when" in fields):
        return None
    return InvariantSpec(
        name=name,
        kind=kind,
        when=when or frozenset({Moment.END}),
        db=db,
        query=source if kind is not InvariantKind.HTTP else "",
        url=source if kind is InvariantKind.HTTP else "",
        path=path,
        expect_text=expect_text,
        expect=expect,
        max_examples=examples,
        location=reader.location(node),
    )


def _when(reader: Reader, node: Node, key: str) -> frozenset[Moment] | None:
    texts = [node.value] if isinstance(node.value, str) else list(reader.strings(node, key))
    moments = set()
    for text in texts:
        if text not in _MOMENTS:
            hint = did_you_mean(str(text), _MOMENTS) or f"one of {', '.join(_MOMENTS)}"
            reader.report(node, key, f"unknown moment `{text}`", hint)
            return None
        moments.add(Moment(text))
    if not moments:
        reader.report(node, key, "give at least one moment", f"one of {', '.join(_MOMENTS)}")
        return None
    return frozenset(moments)


def _path(reader: Reader, node: Node | None, key: str) -> JsonPath | None:
    if node is None:
        return None
    text = reader.string(node, key)
    if text is None:
        return None
    try:
        return parse_jsonpath(text)
    except JsonPathSyntaxError as error:
        reader.report(node, key, f"bad JSONPath `{text}`: {error}")
        return None


def read_ledger(reader: Reader, rules: Node | None, reconcile: Node | None) -> LedgerSpec | None:
    """The LedgerSpec of `ledger:` and `reconcile:`; None when neither is given."""
    if rules is None and reconcile is None:
        return None
    found: list[LedgerRule] = []
    for index, item in enumerate(reader.sequence(rules, "ledger") or [] if rules else []):
        rule = _rule(reader, item, join("ledger", index))
        if rule is not None:
            found.append(rule)
    spec = None
    if reconcile is not None:
        if rules is None:
            reader.report(reconcile, "reconcile", "`reconcile:` needs `ledger:` rules", at_key=True)
        fields = reader.mapping(reconcile, "reconcile", _RECONCILE_KEYS, required=_RECONCILE_KEYS)
        if fields is not None and len(fields) == len(_RECONCILE_KEYS):
            db = reader.string(fields["db"], "reconcile.db")
            query = reader.string(fields["query"], "reconcile.query")
            if db is not None and query is not None:
                spec = ReconcileSpec(db, query, location=reader.location(reconcile))
    return LedgerSpec(tuple(found), spec)


def _rule(reader: Reader, node: Node, key: str) -> LedgerRule | None:
    fields = reader.mapping(
        node, key, _RULE_KEYS, required=("operation", "entity", "field", "delta"), what="a rule"
    )
    if fields is None or len(set(fields) & {"operation", "entity", "field", "delta"}) < 4:
        return None
    operation = reader.string(fields["operation"], join(key, "operation"))
    field = reader.string(fields["field"], join(key, "field"))
    entity = _template(reader, fields["entity"], join(key, "entity"))
    delta: Template | float | None
    delta_node = fields["delta"]
    if isinstance(delta_node.value, int | float) and not isinstance(delta_node.value, bool):
        delta = float(delta_node.value)
    else:
        delta = _template(reader, delta_node, join(key, "delta"))
    statuses: frozenset[int] = frozenset(range(200, 300))
    if "when_status" in fields:
        status_node = fields["when_status"]
        items = status_node.value if isinstance(status_node.value, list) else [status_node]
        codes = [reader.integer(item, join(key, "when_status"), minimum=100) for item in items]
        if any(code is None or code > 599 for code in codes) or not codes:
            reader.report(status_node, join(key, "when_status"), "expected HTTP status codes")
            return None
        statuses = frozenset(code for code in codes if code is not None)
    if operation is None or field is None or entity is None or delta is None:
        return None
    return LedgerRule(operation, statuses, entity, field, delta, location=reader.location(node))


def _template(reader: Reader, node: Node, key: str) -> Template | None:
    text = reader.string(node, key)
    if text is None:
        return None
    try:
        return compile_template(text)
    except TemplateSyntaxError as error:
        reader.report(node, key, str(error))
        return None
