"""Property tests for the parsers: templates, JSONPath and durations."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadlens.model.jsonpath import JsonPathSyntaxError, parse_jsonpath
from loadlens.model.template import VarRef, render
from loadlens.spec.durations import QuantityError, parse_duration, parse_rate
from loadlens.spec.templates import BUILTINS, TemplateSyntaxError, compile_template

# Bounded, and no deadline: the machine running the suite may be busy.
BUDGET = settings(max_examples=100, deadline=None)

literals = st.text(max_size=12).filter(lambda t: "{{" not in t and "}}" not in t)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in BUILTINS
)
spaces = st.sampled_from(["", " ", "  "])


@BUDGET
@given(
    first=literals,
    pieces=st.lists(st.tuples(names, spaces, spaces, literals), max_size=5),
    values=st.dictionaries(names, st.text(max_size=6) | st.integers().map(str)),
)
def test_render_equals_naive_substitution(
    first: str, pieces: list[tuple[str, str, str, str]], values: dict[str, str]
) -> None:
    text = first + "".join(f"{{{{{a}{n}{b}}}}}{lit}" for n, a, b, lit in pieces)
    expected = first + "".join(values.get(n, f"<{n}>") + lit for n, _, _, lit in pieces)

    def lookup(ref: VarRef) -> object:
        return values.get(ref.name, f"<{ref.name}>")

    template = compile_template(text)
    assert render(template, lookup) == expected
    assert [ref.name for ref in template.refs] == [n for n, _, _, _ in pieces]
    assert (template.static is None) == bool(pieces)


@BUDGET
@given(st.text())
def test_template_parser_raises_only_its_error(text: str) -> None:
    with contextlib.suppress(TemplateSyntaxError):
        compile_template(text)


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_keys = st.text(max_size=6)
documents = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_keys, inner, max_size=4),
    max_leaves=20,
)


@BUDGET
@given(document=documents, data=st.data())
def test_jsonpath_finds_the_value_at_an_existing_location(
    document: object, data: st.DataObject
) -> None:
    path, node = "$", document
    while isinstance(node, list | dict) and node and data.draw(st.booleans()):
        if isinstance(node, list):
            index = data.draw(st.integers(-len(node), len(node) - 1))
            path += f"[{index}]"
            node = node[index]
        else:
            key = data.draw(st.sampled_from(sorted(node)))
            simple = parse_name(key) and data.draw(st.booleans())
            quoted = key.replace("\\", "\\\\").replace("'", "\\'")
            path += f".{key}" if simple else f"['{quoted}']"
            node = node[key]
    assert parse_jsonpath(path).find(document) == [node]


def parse_name(key: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key) is not None


@BUDGET
@given(st.text())
def test_jsonpath_parser_raises_only_its_error(text: str) -> None:
    with contextlib.suppress(JsonPathSyntaxError):
        parse_jsonpath(text)


@BUDGET
@given(st.text(max_size=10) | st.integers() | st.floats(allow_nan=False) | st.booleans())
def test_quantities_raise_only_their_error(value: object) -> None:
    for parse in (parse_duration, parse_rate):
        with contextlib.suppress(QuantityError):
            parse(value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("200ms", 0.2), ("30s", 30.0), ("2m", 120.0), ("1h", 3600.0), ("1m30s", 90.0), (5, 5.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "rate"), [("100/s", 100.0), ("600/m", 10.0), ("36/h", 0.01)])
def test_rates(text: str, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)
