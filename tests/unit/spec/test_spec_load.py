"""Valid scenarios load to the expected model; YAML and the Python API agree."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from loadlens.errors import SpecError
from loadlens.model.plan import ClosedLoad, OpenLoad
from loadlens.model.scenario import (
    BodyKind,
    CheckKind,
    ExtractorKind,
    FeederOrder,
    GroupStep,
    RequestStep,
    ThinkStep,
    Timeouts,
)
from loadlens.model.template import Template, VarRef, VarSource
from loadlens.scenario import draft, flow, request, scenario, stage, think
from loadlens.spec import load_scenario, parse_yaml_text

FIXTURES = Path(__file__).parents[2] / "fixtures" / "scenarios"


def test_full_scenario_loads_to_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    path = FIXTURES / "users_crud.yaml"
    loaded = load_scenario(path)
    assert loaded.name == "users-crud"
    assert loaded.target == "http://127.0.0.1:8000"
    assert loaded.source == str(path)
    assert loaded.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [(f.name, f.weight) for f in loaded.flows] == [("crud", 70.0), ("browse", 30.0)]
    assert dict(loaded.headers)["content-type"] == Template.literal("application/json")
    assert [f.name for f in loaded.feeders] == ["names", "accounts"]
    names = loaded.feeders[0]
    assert names.order is FeederOrder.RANDOM
    assert names.columns == ("name", "email")
    assert names.rows == (("alice", "a@x.io"), ("bob", "b@x.io"))
    assert loaded.feeders[1].rows == (("u1", 1), ("u2", 2))
    assert loaded.variables == (("tenant", Template.literal("acme")),)

    seed = loaded.setup[0]
    assert isinstance(seed, RequestStep)
    assert seed.repeat == 3
    assert seed.captures[0].into_pool and seed.captures[0].variable == "user_ids"

    create, read, pause, update, browse = loaded.flows[0].steps
    assert isinstance(create, RequestStep)
    assert create.request.method == "POST"
    assert create.request.timeouts == Timeouts(connect=2.0, read=10.0)
    assert create.expect.statuses == frozenset({201})
    body = create.request.body
    assert body is not None and body.kind is BodyKind.JSON and isinstance(body.json, dict)
    name_ref = VarRef(VarSource.FEEDER, "names", field="name")
    assert body.json["name"] == Template((name_ref,), None)
    assert body.json["n"] == Template((VarRef(VarSource.BUILTIN, "random_int", args=(1, 9)),), None)
    assert create.location.line == 20

    assert isinstance(read, RequestStep)
    assert read.request.name == "GET /users/{id}"
    assert read.expect.statuses == frozenset({200, 404})
    kinds = [check.kind for check in read.expect.checks]
    assert kinds == [CheckKind.EXISTS, CheckKind.EQUALS, CheckKind.CONTAINS]
    assert read.expect.checks[1].value == "alice"
    assert read.expect.checks[2].extractor is None

    assert pause == ThinkStep(0.2, 0.2)
    assert isinstance(update, RequestStep)
    assert update.request.name == "PUT /users/{id}"
    assert update.request.timeouts == Timeouts(connect=2.0, read=10.0, total=3.0)
    assert dict(update.request.headers)["x-trace"].refs == (VarRef(VarSource.BUILTIN, "uuid"),)
    assert update.request.query == (("verbose", Template.literal("1")),)
    kinds_by_var = {c.variable: (c.extractor.kind, c.extractor.expression) for c in update.captures}
    assert kinds_by_var == {
        "etag": (ExtractorKind.HEADER, "etag"),
        "code": (ExtractorKind.REGEX, r"code=(\d+)"),
        "other": (ExtractorKind.JSONPATH, "$.token"),
    }
    assert isinstance(browse, GroupStep) and browse.repeat == 2
    assert browse.steps[1] == ThinkStep(0.1, 0.5)

    find, raw = loaded.flows[1].steps
    assert isinstance(find, RequestStep) and find.captures[0].all_matches
    assert isinstance(raw, RequestStep) and raw.request.body is not None
    assert raw.request.body.kind is BodyKind.RAW
    assert raw.request.body.content_type == "text/plain"

    smoke, load, up = loaded.plan
    assert smoke.load == ClosedLoad(5) and smoke.duration == 30.0 and smoke.line == 50
    assert [gate.text for gate in smoke.gates] == ["error_rate < 1%"]
    assert load.load == OpenLoad(100.0, max_in_flight=500) and load.length == 130.0
    assert up.load == ClosedLoad(20, start_users=5) and up.duration == 90.0
    assert [gate.describe() for gate in loaded.thresholds] == ["p95 < 200ms"]
    assert loaded.invariants == (
        {"name": "no user without a name", "sql": "SELECT id FROM users WHERE name IS NULL"},
    )


def test_yaml_and_python_api_build_equal_models() -> None:
    from_yaml = load_scenario(FIXTURES / "crud_70_30.yaml")
    from_python = load_scenario(FIXTURES / "crud_70_30.py")
    assert from_python == from_yaml
    assert from_python.source.endswith("crud_70_30.py")


def test_python_file_that_raises_is_located() -> None:
    path = FIXTURES / "bad_python.py"
    with pytest.raises(SpecError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 6)
    assert "KeyError" in problem.message


def test_python_builder_problems_point_at_the_calling_line() -> None:
    path = FIXTURES / "bad_python_spec.py"
    with pytest.raises(SpecError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert problem.file.endswith("bad_python_spec.py")
    assert problem.line == 8
    assert problem.key == "flows[0].steps[0].request.method"
    assert "did you mean `GET`?" in problem.render()


def test_draft_takes_the_target_later() -> None:
    later = draft("d", steps=[think("1s")], plan=[stage("a", users=1, duration=1)])
    assert later.build(target_override="http://h:1").target == "http://h:1"
    with pytest.raises(SpecError):
        later.build()


def test_python_api_validates_like_yaml() -> None:
    with pytest.raises(SpecError) as caught:
        scenario(
            "p",
            target="http://h",
            flows=[flow("f", steps=[request("GET", "users/{{ idd }}")])],
            plan=[stage("s", users=0, duration="1s")],
        )
    messages = [p.message for p in caught.value.problems]
    assert messages == ["bad URL `users/{{ idd }}`", "must be at least 1, got 0"]


def test_env_values_are_substituted_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADLENS_TEST_TOKEN", "s3cret")
    monkeypatch.setenv("LOADLENS_TEST_USERS", "7")
    text = (
        "name: s\ntarget: http://h\n"
        "defaults: {headers: {authorization: 'Bearer ${env:LOADLENS_TEST_TOKEN}'}}\n"
        "steps: [{think: 1s}]\n"
        "plan:\n  - stage: a\n    users: ${env:LOADLENS_TEST_USERS}\n    duration: 1s\n"
    )
    loaded = parse_yaml_text(text)
    assert loaded.headers == (("authorization", Template.literal("Bearer s3cret")),)
    assert loaded.secrets == frozenset({"s3cret"})  # `USERS=7` is a setting, not a secret
    assert loaded.plan[0].load == ClosedLoad(7)
    assert [f.name for f in loaded.flows] == ["default"]


def test_env_values_are_secret_by_their_name_or_by_their_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOADLENS_TEST_API_KEY", "keyvalue")  # by name, used in a query
    monkeypatch.setenv("LOADLENS_TEST_Session_Id", "sessvalue")  # by name, any case
    monkeypatch.setenv("LOADLENS_TEST_VALUE", "cookievalue")  # by use: sent in a cookie
    monkeypatch.setenv("LOADLENS_TEST_HOST", "example.org")  # neither
    monkeypatch.setenv("LOADLENS_TEST_USERS", "100")  # neither: inside a word of the cookie
    text = (
        "name: s\ntarget: http://h\n"
        "steps:\n"
        "  - request:\n"
        "      url: /a?k=${env:LOADLENS_TEST_API_KEY}&s=${env:LOADLENS_TEST_Session_Id}\n"
        "      headers:\n"
        "        cookie: 'c=${env:LOADLENS_TEST_VALUE}; d=x100y'\n"
        "        x-users: '${env:LOADLENS_TEST_USERS}'\n"
        "        x-host: '${env:LOADLENS_TEST_HOST}'\n"
        "plan: [{stage: a, users: 1, duration: 1s}]\n"
    )
    loaded = parse_yaml_text(text)
    assert loaded.secrets == frozenset({"keyvalue", "sessvalue", "cookievalue"})
