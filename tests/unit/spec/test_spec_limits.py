"""`max_body` (in defaults and per request) and `secret: true` on a capture."""

from __future__ import annotations

import pytest

from loadlens.errors import SpecError
from loadlens.model.scenario import DEFAULT_MAX_BODY, RequestStep
from loadlens.scenario import request, scenario, stage
from loadlens.spec import parse_yaml_text

SCENARIO = """\
name: s
target: http://h
{defaults}
steps:
  - request: {{name: a, url: /a{request}}}
    capture: {{token: {{jsonpath: $.token{secret}}}}}
  - request: {{name: b, url: /b}}
plan: [{{stage: x, users: 1, duration: 1s}}]
"""


def _load(defaults: str = "", request: str = "", secret: str = "") -> list[RequestStep]:
    text = SCENARIO.format(defaults=defaults, request=request, secret=secret)
    steps = parse_yaml_text(text).flows[0].steps
    assert all(isinstance(step, RequestStep) for step in steps)
    return [step for step in steps if isinstance(step, RequestStep)]


def test_max_body_defaults_to_4_mib_and_is_set_by_defaults_or_per_request() -> None:
    text = SCENARIO.format(defaults="", request="", secret="")
    assert parse_yaml_text(text).max_body == DEFAULT_MAX_BODY == 4 * 1024 * 1024
    assert [s.request.max_body for s in _load()] == [None, None]
    text = SCENARIO.format(defaults="defaults: {max_body: 512KiB}", request="", secret="")
    assert parse_yaml_text(text).max_body == 512 * 1024
    steps = _load(request=", max_body: 1000")
    assert [s.request.max_body for s in steps] == [1000, None]
    assert _load(request=", max_body: 10MB")[0].request.max_body == 10_000_000
    assert _load(request=", max_body: 0")[0].request.max_body == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", "`lots` is not a size"),
        ("-1", "must be between 0 and 1GiB, got -1"),
        ("2GiB", "must be between 0 and 1GiB, got 2GiB"),
        ("true", "`True` is not a size"),
    ],
)
def test_a_bad_max_body_is_a_located_problem(value: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        _load(request=f", max_body: {value}")
    (problem,) = caught.value.problems
    assert (problem.line, problem.key) == (5, "steps[0].request.max_body")
    assert message in problem.message


def test_a_capture_may_be_marked_secret() -> None:
    assert not _load()[0].captures[0].secret
    assert _load(secret=", secret: true")[0].captures[0].secret
    with pytest.raises(SpecError) as caught:
        _load(secret=", secret: maybe")
    (problem,) = caught.value.problems
    assert problem.key == "steps[0].capture.token.secret"
    assert "expected true or false" in problem.message


def test_the_python_api_sets_max_body_and_secret_captures_as_yaml_does() -> None:
    built = scenario(
        "s",
        target="http://h",
        max_body="1MiB",
        steps=[
            request(
                "GET",
                "/a",
                max_body=10,
                capture={"token": {"jsonpath": "$.token", "secret": True}},
            )
        ],
        plan=[stage("x", users=1, duration="1s")],
    )
    assert built.max_body == 1024 * 1024
    (step,) = built.flows[0].steps
    assert isinstance(step, RequestStep)
    assert (step.request.max_body, step.captures[0].secret) == (10, True)
