"""Malformed scenarios: each problem is located at the exact file:line:col and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadlens.errors import SpecError
from loadlens.spec import load_scenario, parse_yaml_text

FIXTURES = Path(__file__).parents[2] / "fixtures" / "scenarios"

# fixture -> (line, column, key, a fragment of the message)
CASES = {
    "bad_syntax.yaml": (7, 5, "", "invalid YAML"),
    "bad_unknown_key.yaml": (
        6,
        45,
        "flows[0].steps[0].request.heders",
        "unknown key `heders` (did you mean `headers`?)",
    ),
    "bad_url.yaml": (6, 37, "flows[0].steps[0].request.url", "bad URL `users`"),
    "bad_undefined_variable.yaml": (
        8,
        37,
        "flows[0].steps[1].request.url",
        "undefined variable `user_ids` (did you mean `user_id`?)",
    ),
    "bad_negative_duration.yaml": (8, 40, "plan[0].duration", "positive duration, got -5s"),
    "bad_zero_weight.yaml": (4, 3, "flows", "weights add up to 0"),
    "bad_jsonpath.yaml": (7, 23, "flows[0].steps[0].capture.id", "bad JSONPath `$.items[x]`"),
    "bad_method.yaml": (
        6,
        27,
        "flows[0].steps[0].request.method",
        "unknown HTTP method `GTE` (did you mean `GET`?)",
    ),
    "bad_missing_target.yaml": (1, 1, "target", "missing required key `target`"),
    "bad_missing_csv.yaml": (4, 16, "data.names.csv", "file not found"),
    "bad_feeder_column.yaml": (
        8,
        37,
        "flows[0].steps[0].request.url",
        "feeder `names` has no column `nme` (columns: name, email)",
    ),
    "bad_unclosed_template.yaml": (7, 37, "flows[0].steps[0].request.url", "unclosed `{{`"),
    "bad_env_unset.yaml": (
        5,
        20,
        "defaults.headers.authorization",
        "environment variable `LOADLENS_TEST_UNSET_TOKEN` is not set",
    ),
}


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOADLENS_TEST_UNSET_TOKEN", raising=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_problem_is_located(name: str) -> None:
    line, column, key, fragment = CASES[name]
    path = FIXTURES / name
    with pytest.raises(SpecError) as caught:
        load_scenario(path)
    problems = caught.value.problems
    assert len(problems) == 1, caught.value.render()
    problem = problems[0]
    assert (problem.file, problem.line, problem.column, problem.key) == (
        str(path),
        line,
        column,
        key,
    )
    assert fragment in problem.render()


def test_every_problem_is_listed() -> None:
    path = FIXTURES / "bad_many.yaml"
    with pytest.raises(SpecError) as caught:
        load_scenario(path)
    found = [(p.line, p.column, p.key) for p in caught.value.problems]
    assert found == [
        (2, 9, "target"),
        (5, 13, "flows[0].weight"),
        (7, 27, "flows[0].steps[0].request.method"),
        (8, 26, "flows[0].steps[0].expect.status"),
        (9, 16, "flows[0].steps[1].think"),
        (11, 17, "flows[0].steps[2].repeat"),
        (13, 28, "flows[0].steps[2].steps[0].request.url"),
        (15, 23, "plan[0].users"),
        (15, 36, "plan[0].duration"),
        (16, 22, "plan[1].rate"),
        (16, 47, "plan[1].ramp"),
        (17, 5, "plan[2]"),
    ]


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(text, file="s.yaml")
    return [p.render() for p in caught.value.problems]


HEAD = "name: s\ntarget: http://h\nplan: [{stage: a, users: 1, duration: 1s}]\n"


def test_unknown_top_level_key() -> None:
    assert _problems(HEAD + "flow: []\nsteps: [{think: 1s}]\n") == [
        "s.yaml:4:1: flow: unknown key `flow` (did you mean `flows`?)"
    ]


def test_flows_and_steps_together() -> None:
    text = HEAD + "flows: [{name: a, steps: [{think: 1s}]}]\nsteps: [{think: 1s}]\n"
    assert _problems(text) == ["s.yaml:5:1: steps: give `flows:` or `steps:`, not both"]


def test_no_flows_and_empty_plan() -> None:
    text = "name: s\ntarget: http://h\nplan: []\n"
    assert _problems(text) == [
        "s.yaml:1:1: flows: no flows: give `flows:` (or `steps:` for a single flow)",
        "s.yaml:3:7: plan: the plan needs at least one stage",
    ]


def test_duplicate_stage_and_pool_never_filled() -> None:
    text = (
        "name: s\ntarget: http://h\n"
        "steps: [{request: {url: '/u/{{ pool.ids }}'}}]\n"
        "plan: [{stage: a, users: 1, duration: 1s}, {stage: a, users: 2, duration: 1s}]\n"
    )
    assert _problems(text) == [
        "s.yaml:3:25: steps[0].request.url: no capture fills pool `ids` "
        "(capture into it with `pool.NAME: $.path`)",
        "s.yaml:4:52: plan[1].stage: duplicate stage `a`",
    ]


def test_capture_is_not_visible_before_its_step() -> None:
    text = HEAD + (
        "steps:\n"
        "  - request: {url: '/a/{{ id }}'}\n"
        "  - request: {url: /b}\n"
        "    capture: {id: $.id}\n"
    )
    (problem,) = _problems(text)
    assert problem.startswith("s.yaml:5:20: steps[0].request.url: undefined variable `id`")


def test_bad_regex_and_two_bodies() -> None:
    text = HEAD + (
        "steps:\n"
        "  - request: {url: /a, json: {}, form: {}}\n"
        "    capture: {x: {regex: '(unclosed'}}\n"
    )
    problems = _problems(text)
    assert problems[0] == (
        "s.yaml:5:34: steps[0].request.form: a request has one body: "
        "`json` and `form` are both given"
    )
    assert problems[1].startswith("s.yaml:6:26: steps[0].capture.x.regex: bad regular expression")


def test_target_override_replaces_a_missing_target() -> None:
    text = "name: s\nsteps: [{think: 1s}]\nplan: [{stage: a, users: 1, duration: 1s}]\n"
    scenario = parse_yaml_text(text, target_override="https://example.org")
    assert scenario.target == "https://example.org"
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(text, target_override="example.org")
    assert caught.value.problems[0].key == "--target"
