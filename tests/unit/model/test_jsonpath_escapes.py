"""Quoted JSONPath keys: a backslash escapes the next character, as in JSON strings."""

from __future__ import annotations

import pytest

from loadlens.model.jsonpath import parse_jsonpath


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (r"$['it\'s']", "it's"),
        (r'$["say \"hi\""]', 'say "hi"'),
        (r"$['back\\slash']", "back\\slash"),
        (r"$['line\nbreak']", "line\nbreak"),
        (r"$['tab\there']", "tab\there"),
        ("$['plain']", "plain"),
    ],
)
def test_a_quoted_key_is_unescaped(path: str, key: str) -> None:
    assert parse_jsonpath(path).find({key: 1, "other": 2}) == [1]


def test_an_escaped_quote_inside_a_longer_path() -> None:
    document = {"items": [{"it's": {"id": 7}}]}
    assert parse_jsonpath(r"$.items[0]['it\'s'].id").find(document) == [7]
