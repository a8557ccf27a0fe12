"""Fuzzing the readers of user input: random and mutated text gives a model or a clear problem.

The YAML reader, the threshold parser, templates and JSONPath each get random text and
mutations of valid input; the only outcomes allowed are a value or the reader's own error
(a SpecError whose problems each name a file and a line). Each property has a bounded budget
(`max_examples`) and no deadline, so the whole file takes a few seconds even on a busy
machine, and `make test` runs it with everything else.
"""

from __future__ import annotations

import contextlib

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadlens.errors import SpecError
from loadlens.model.jsonpath import JsonPathSyntaxError, parse_jsonpath
from loadlens.model.scenario import Scenario
from loadlens.model.threshold import ThresholdSyntaxError, parse_threshold
from loadlens.spec import parse_yaml_text
from loadlens.spec.templates import TemplateSyntaxError, compile_template

BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = """\
name: fuzz
target: http://127.0.0.1:8000
defaults:
  headers: {content-type: application/json, x-trace: "{{ uuid }}"}
  timeout: {connect: 1s, total: 5s}
vars: {base: /users}
flows:
  - name: crud
    weight: 70
    steps:
      - request: {name: create, method: POST, url: "{{ base }}", json: {name: "n{{ user_id }}"}}
        expect: {status: [201, 409]}
        capture: {id: $.id, pool.ids: {jsonpath: "$['id']"}}
      - request: {name: read, url: "/users/{{ id }}", query: {verbose: "1"}}
        expect:
          checks: [{name: has id, jsonpath: $.id, exists: true}]
      - think: [10ms, 20ms]
      - group: tail
        repeat: 2
        steps:
          - request: {name: update, method: PUT, url: "/users/{{ id }}", json: {age: 41}}
  - name: browse
    weight: 30
    steps:
      - request: {name: find, url: "/users?limit=20"}
plan:
  - {stage: smoke, users: 2, duration: 1s, gates: ["error_rate < 1%"]}
  - {stage: load, rate: 10/s, ramp: 1s, duration: 2s, max_in_flight: 50,
     gates: ["p95 < 50ms", "p95{op:read} < 20ms", "rate(status=409) between 0% and 10%"]}
thresholds: ["p99 < 1s"]
invariants:
  - {name: no orphans, sql: "SELECT 1 WHERE 1 = 0", db: "sqlite:///app.db"}
  - {name: health, http: "{{ target }}/health", path: $.status, expect: "== 'ok'"}
"""
GATES = [
    "p95 < 200ms",
    "p99.9 <= 2s",
    "error_rate(exclude=429) < 1%",
    "p95{op:read} < 20ms",
    "rate(status=409) between 85% and 95%",
    "avg < 20",
    "error_rate < 0.1%",
]
TEMPLATES = ["/users/{{ id }}", "{{ pool.ids }}", "{{ names.name }}", "{{ random_int(1, 9) }}"]
PATHS = ["$.id", "$.items[0].id", "$['it\\'s']", "$[*].name", "$.a.*", "$[-1]"]
# Characters that matter to the syntaxes under test, so mutations hit them often.
SYNTAX = st.sampled_from([*"{}[]()<>=!&*|:,'\"\\$.%#-?@`~ \n\t", "{{", "}}", "${env:"])


def _assert_clear(error: SpecError) -> None:
    """Every problem names a file and renders as one line of text."""
    assert error.problems
    for problem in error.problems:
        assert problem.file and problem.message
        assert "\n" not in problem.render() and "\r" not in problem.render()


def _read(text: str) -> None:
    try:
        scenario = parse_yaml_text(text, file="fuzz.yaml")
    except SpecError as error:
        _assert_clear(error)
    else:
        assert isinstance(scenario, Scenario)


@st.composite
def mutated(draw: st.DrawFn, valid: str) -> str:
    """`valid` with a few slices deleted, duplicated or replaced by random or syntax text."""
    text = valid
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 12)))
        insert = draw(st.one_of(st.just(""), st.text(max_size=6), SYNTAX, st.just(text[start:end])))
        text = text[:start] + insert + text[end:]
    return text


def test_the_valid_scenario_is_valid() -> None:
    scenario = parse_yaml_text(VALID, file="fuzz.yaml")
    assert [flow.name for flow in scenario.flows] == ["crud", "browse"]


@BUDGET
@given(st.text(max_size=200))
def test_yaml_reader_random_text(text: str) -> None:
    _read(text)


@BUDGET
@given(mutated(VALID))
def test_yaml_reader_mutated_scenarios(text: str) -> None:
    _read(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(BUDGET, max_examples=75)  # each example validates a whole scenario
@given(data=st.data())
def test_yaml_reader_scenarios_with_a_value_replaced(data: st.DataObject) -> None:
    """Any key of a valid scenario holding any (YAML-dumpable) value instead of its own."""
    tree = yaml.safe_load(VALID)
    node = tree
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if not isinstance(child, dict | list) or not child or data.draw(st.booleans()):
            node[key] = data.draw(json_values)
            break
        node = child
    _read(yaml.safe_dump(tree, allow_unicode=True))


@BUDGET
@given(st.one_of(st.text(max_size=40), st.sampled_from(GATES).flatmap(mutated)))
def test_threshold_parser_raises_only_its_error(text: str) -> None:
    with contextlib.suppress(ThresholdSyntaxError):
        parse_threshold(text)


@BUDGET
@given(st.one_of(st.text(max_size=40), st.sampled_from(TEMPLATES).flatmap(mutated)))
def test_template_compiler_raises_only_its_error(text: str) -> None:
    with contextlib.suppress(TemplateSyntaxError):
        compile_template(text)


@BUDGET
@given(st.one_of(st.text(max_size=40), st.sampled_from(PATHS).flatmap(mutated)))
def test_jsonpath_parser_raises_only_its_error(text: str) -> None:
    with contextlib.suppress(JsonPathSyntaxError):
        parse_jsonpath(text)
