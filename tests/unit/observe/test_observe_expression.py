from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadlens.model.observation import (
    MISSING,
    ExpressionError,
    evaluate,
    parse_expectation,
    parse_expression,
)

NAMES = ("a", "b", "c")
numbers = st.integers(min_value=-1000, max_value=1000)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from([*NAMES, *(str(n) for n in range(0, 20, 3))]))
    left = draw(expressions(depth + 1))
    right = draw(expressions(depth + 1))
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    text = f"{left} {op} {right}"
    return f"({text})" if draw(st.booleans()) else text


def python_value(text: str, env: dict[str, int]) -> float | None:
    try:
        value = eval(text, {"__builtins__": {}}, dict(env))  # the oracle, on generated text only
    except ZeroDivisionError:
        return None
    return float(value)


@given(expressions(), numbers, numbers, numbers)
def test_arithmetic_agrees_with_python(text: str, a: int, b: int, c: int) -> None:
    env = {"a": a, "b": b, "c": c}
    values = {name: float(value) for name, value in env.items()}  # observed values are floats
    got = evaluate(parse_expression(text), lambda path: values.get(path[0], MISSING))
    expected = python_value(text, env)
    if expected is None or not math.isfinite(expected):
        assert got is MISSING  # division by zero somewhere gives no value
    else:
        assert isinstance(got, float)
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)


def test_unicode_operators_and_precedence() -> None:
    expr = parse_expression("hits ÷ (hits + misses) × 100 - -1")
    assert evaluate(expr, {("hits",): 3.0, ("misses",): 1.0}.__getitem__) == 76.0


def test_division_by_zero_and_missing_names_give_no_value() -> None:
    assert evaluate(parse_expression("a / (b - b)"), lambda p: 2.0) is MISSING
    assert evaluate(parse_expression("a + 1"), lambda p: MISSING) is MISSING


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "a.__class__()",
        "open('x')",
        "a[0]",
        "lambda: 1",
        "1 if a else 2",
        "a ** 2",
        "",
        "(a + b",
        "a < b < c",
        "(" * 60 + "1" + ")" * 60,
    ],
)
def test_anything_outside_the_language_is_rejected(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_expectations_and_comparisons() -> None:
    item = {"name": "x", "total_units": 50, "used_units": 10, "scheduled_units": 40, "n": None}

    def holds(text: str) -> object:
        def lookup(path: tuple[str, ...]) -> object:
            return item.get(path[0], MISSING) if path != ("value",) else 0

        return evaluate(parse_expectation(text), lookup)

    assert holds("used_units + scheduled_units <= total_units") is True
    assert holds("used_units + scheduled_units < total_units") is False
    assert holds("name != null and n == null") is True
    assert holds("missing == null") is True
    assert holds("missing > 0") is False
    assert holds("== 0") is True
    assert holds("name == 'x' or false") is True
    assert holds("not (name == 'x')") is False
