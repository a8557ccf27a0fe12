"""Template filters: parsed at load, folded when constant, applied per request otherwise."""

from __future__ import annotations

import base64
import hashlib

import pytest

from loadlens.model.template import Filtered, render
from loadlens.spec.templates import TemplateSyntaxError, compile_template, display_name


def _render(text: str, **values: object) -> str:
    return render(compile_template(text), lambda ref: values[ref.name])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ v | base64 }}", base64.b64encode("Ünï code".encode()).decode()),
        ("{{ v | urlencode }}", "%C3%9Cn%C3%AF%20code"),
        ("{{ v | json }}", '"Ünï code"'),
        ("{{ v | lower }}", "ünï code"),
        ("{{ v | upper }}", "ÜNÏ CODE"),
        ("{{ v | lower | sha256 }}", hashlib.sha256("ünï code".encode()).hexdigest()),
    ],
)
def test_each_filter(text: str, expected: str) -> None:
    assert _render(text, v="Ünï code") == expected


def test_json_sees_a_lone_variable_with_its_type() -> None:
    assert _render("n={{ n | json }}", n=41) == "n=41"
    assert _render("{{ d | json }}", d={"a": [1, None]}) == '{"a":[1,null]}'


def test_a_constant_is_filtered_once_at_load() -> None:
    template = compile_template("Basic {{ 'user:pw' | base64 }}!")
    assert template.static == "Basic " + base64.b64encode(b"user:pw").decode() + "!"
    assert compile_template("{{ 'a|b' | upper }}").static == "A|B"


def test_a_filtered_reference_keeps_its_variable_visible() -> None:
    template = compile_template("/u/{{ name | lower }}")
    assert [r.name for r in template.refs] == ["name"]
    assert isinstance(template.parts[1], Filtered)
    assert display_name(template) == "/u/{name | lower}"


def test_an_unknown_filter_is_a_syntax_error_naming_the_known_ones() -> None:
    with pytest.raises(
        TemplateSyntaxError, match=r"unknown filter `md5` \(expected one of base64, urlencode"
    ):
        compile_template("{{ v | md5 }}")
    with pytest.raises(TemplateSyntaxError, match="unclosed quote"):
        compile_template("{{ 'open | base64 }}")
