"""Requests compiled at load: static ones encoded once, templated ones rendered per user."""

from __future__ import annotations

import json
import random

import pytest

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.variables import MissingVariableError, SharedData, UserState
from loadlens.spec import parse_yaml_text

SCENARIO = """\
name: t
target: http://127.0.0.1:8000
defaults:
  headers: {x-app: demo}
vars: {n: 0}
flows:
  - name: f
    steps:
      - request: {name: static, method: GET, url: /health}
      - request:
          name: create
          method: POST
          url: /users
          json: {name: "a b", n: "{{ n }}", s: "n={{ n }}"}
        capture: {id: $.id}
      - request: {name: read, method: GET, url: "/users/{{ id }}", query: {q: "x y"}}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def _user(**variables: object) -> UserState:
    return UserState(user_id=3, shared=SharedData(rng=random.Random(0)), variables=variables)


def test_static_request_is_encoded_once() -> None:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    static = compiled.flows[0][0].prepared  # type: ignore[union-attr]
    assert static.static == (
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nx-app: demo\r\n"
        b"accept-encoding: gzip, deflate, br, zstd\r\n\r\n"  # `compression:` is on by default
    )
    assert static.encode(_user()) is static.static


def test_json_body_keeps_the_type_of_a_whole_variable() -> None:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    create = compiled.flows[0][1].prepared  # type: ignore[union-attr]
    data = create.encode(_user(n=41))
    head, _, body = data.partition(b"\r\n\r\n")
    assert json.loads(body) == {"name": "a b", "n": 41, "s": "n=41"}
    assert b"content-type: application/json" in head.lower()
    assert f"content-length: {len(body)}".encode() in head.lower()


def test_url_values_are_escaped_and_query_encoded() -> None:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    read = compiled.flows[0][2].prepared  # type: ignore[union-attr]
    data = read.encode(_user(id="a b/c"))
    assert data.startswith(b"GET /users/a%20b/c?q=x+y HTTP/1.1\r\n")


def test_a_missing_variable_names_the_step_that_should_have_set_it() -> None:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    read = compiled.flows[0][2].prepared  # type: ignore[union-attr]
    user = _user()
    user.mark_missing("id", "create")
    with pytest.raises(MissingVariableError) as caught:
        read.encode(user)
    assert caught.value.outcome_detail == "id@create"


def test_flows_are_picked_by_weight() -> None:
    text = SCENARIO.replace(
        "  - name: f\n", "  - name: g\n    weight: 3\n    steps:\n      - think: 1ms\n  - name: f\n"
    )
    compiled = compile_scenario(parse_yaml_text(text))
    rng = random.Random(7)
    picks = [compiled.pick_flow(rng.random()) for _ in range(4000)]
    share = sum(1 for p in picks if p is compiled.flows[0]) / len(picks)
    assert 0.72 < share < 0.78  # weight 3 of 4
