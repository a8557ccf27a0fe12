"""Command-line overrides (`-u/-r/-d --stage`, `-e`, `--var`) applied by the loader."""

from __future__ import annotations

from typing import Any

import pytest

from loadlens.errors import SpecError, UsageError
from loadlens.model.plan import ClosedLoad, LoadModel, OpenLoad
from loadlens.model.scenario import Scenario
from loadlens.model.template import VarRef, VarSource
from loadlens.spec import parse_yaml_text
from loadlens.spec.overrides import Overrides, parse_overrides

MIXED = """\
name: mixed
target: http://127.0.0.1:8000
vars:
  tenant: acme
steps:
  - request: {name: find, method: GET, url: "/t/{{ tenant }}/{{ token }}?k=${env:LL_TEST_KEY}"}
plan:
  - {stage: warm, users: 2, duration: 30s}
  - {stage: load, rate: 10/s, duration: 1m}
  - {stage: peak, users: 5, from: 2, ramp: 5s, duration: 2m}
"""


def _load(text: str = MIXED, **given: Any) -> Scenario:
    defaults: dict[str, object] = {"env": ("LL_TEST_KEY=k1",), "variables": ("token=t1",)}
    return parse_yaml_text(text, overrides=parse_overrides(**{**defaults, **given}))


def _loads(scenario: Scenario) -> list[tuple[str, LoadModel, float]]:
    return [(s.name, s.load, s.duration) for s in scenario.plan]


def test_without_stage_users_set_closed_stages_rate_open_ones_duration_all() -> None:
    scenario = _load(users=7, rate="20/s", duration="3s")
    assert _loads(scenario) == [
        ("warm", ClosedLoad(7), 3.0),
        ("load", OpenLoad(20.0), 3.0),
        ("peak", ClosedLoad(7, start_users=2), 3.0),
    ]
    assert scenario.plan[2].ramp == 5.0


def test_stage_picks_the_one_stage_changed() -> None:
    scenario = _load(users=9, duration="1s", stage="peak")
    assert _loads(scenario) == [
        ("warm", ClosedLoad(2), 30.0),
        ("load", OpenLoad(10.0), 60.0),
        ("peak", ClosedLoad(9, start_users=2), 1.0),
    ]


@pytest.mark.parametrize(
    ("given", "message", "hint"),
    [
        (
            {"users": 3, "stage": "load"},
            "-u/--users changes closed (users) stages, and stage `load` is not one",
            "-r/--rate changes the other kind of stage",
        ),
        (
            {"rate": "5/s", "stage": "warm"},
            "-r/--rate changes open (rate) stages, and stage `warm` is not one",
            "-u/--users changes the other kind of stage",
        ),
        (
            {"users": 3, "stage": "lod"},
            "--stage lod: no such stage in the plan",
            "did you mean `load`?",
        ),
        (
            {"stage": "load"},
            "--stage NAME picks the stage that -u, -r or -d change; give one",
            None,
        ),
    ],
)
def test_a_load_override_that_does_not_fit_is_a_clear_error(
    given: dict[str, Any], message: str, hint: str | None
) -> None:
    with pytest.raises(UsageError) as raised:
        _load(**given)
    assert (raised.value.message, raised.value.hint) == (message, hint)


def test_rate_on_a_plan_without_open_stages_is_refused() -> None:
    closed_only = MIXED.replace("  - {stage: load, rate: 10/s, duration: 1m}\n", "")
    with pytest.raises(UsageError) as raised:
        _load(closed_only, rate="5/s")
    assert raised.value.message == "-r/--rate changes open (rate) stages, and the plan has none"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"users": 0}, "-u/--users must be at least 1, not 0"),
        (
            {"rate": "fast"},
            "-r/--rate: `fast` is not a rate (expected e.g. `100/s`, `600/m`, `10/h`)",
        ),
        ({"rate": "0/s"}, "-r/--rate must be a positive rate, not 0/s"),
        ({"duration": "0s"}, "-d/--duration must be a positive duration, not 0s"),
        ({"env": ("NOPE",)}, "-e/--env takes NAME=VALUE, not `NOPE`"),
        ({"variables": ("a-b=1",)}, "--var a-b=1: `a-b` is not a variable name"),
    ],
)
def test_bad_option_values_name_the_option(given: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_overrides(**given)
    assert raised.value.message == message


def test_env_values_fill_env_references_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LL_TEST_KEY", "from-environment")
    scenario = _load()
    url = scenario.flows[0].steps[0].request.url
    assert url.parts[-1] == "?k=k1"
    assert "k1" in scenario.secrets


def test_an_unset_env_reference_is_still_a_located_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LL_TEST_KEY", raising=False)
    with pytest.raises(SpecError) as raised:
        _load(env=())
    assert raised.value.render() == (
        "<string>:6:45: steps[0].request.url: environment variable `LL_TEST_KEY` is not set "
        "(`${env:LL_TEST_KEY}`)"
    )


def test_var_fills_request_templates_as_a_constant_variable() -> None:
    scenario = _load(variables=("token=t1", "tenant=globex"))
    url = scenario.flows[0].steps[0].request.url
    assert VarRef(VarSource.USER, "token") in url.refs
    variables = {name: t.static for name, t in scenario.variables}
    assert variables == {"token": "t1", "tenant": "globex"}  # --var over the scenario's own


def test_var_values_are_literal_text_never_templates() -> None:
    scenario = _load(variables=("token={{ uuid }}",))
    variables = dict(scenario.variables)
    assert variables["token"].static == "{{ uuid }}"


def test_without_var_an_undefined_template_variable_is_still_reported() -> None:
    with pytest.raises(SpecError) as raised:
        _load(variables=())
    assert "undefined variable `token`" in raised.value.render()


def test_no_overrides_changes_nothing() -> None:
    plain = MIXED.replace("/{{ token }}", "").replace("?k=${env:LL_TEST_KEY}", "")
    assert parse_yaml_text(plain, overrides=Overrides()) == parse_yaml_text(plain)
