"""Iteration-count stages: `iterations` (shared) and `per_user`, with `duration` a time limit."""

from __future__ import annotations

import pytest

from loadlens.errors import SpecError
from loadlens.model.plan import ITERATIONS_TIME_LIMIT, ClosedLoad, OpenLoad
from loadlens.spec import parse_yaml_text

HEAD = "name: s\ntarget: http://h\nsteps: [{request: {url: /}}]\n"


def _plan(stages: str) -> str:
    return HEAD + f"plan:\n{stages}"


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(text, file="s.yaml")
    return [p.render() for p in caught.value.problems]


def test_counted_stages_need_no_duration_and_keep_one_as_a_limit() -> None:
    loaded = parse_yaml_text(
        _plan(
            "  - {stage: a, users: 4, iterations: 100}\n"
            "  - {stage: b, users: 2, per_user: 3, duration: 30s}\n"
            "  - {stage: c, rate: 50/s, iterations: 120}\n"
        )
    )
    a, b, c = loaded.plan
    assert a.load == ClosedLoad(4, iterations=100) and a.duration == ITERATIONS_TIME_LIMIT
    assert b.load == ClosedLoad(2, per_user=3) and b.duration == 30.0
    assert c.load == OpenLoad(50.0, iterations=120) and c.duration == ITERATIONS_TIME_LIMIT
    assert a.counted and b.counted and c.counted


def test_a_stage_without_duration_or_count_is_located() -> None:
    assert _problems(_plan("  - {stage: a, users: 1}\n")) == [
        "s.yaml:5:5: plan[0].duration: missing required key `duration` "
        "(or `iterations` / `per_user` to run a count)"
    ]


def test_bad_counts_are_located() -> None:
    text = _plan(
        "  - {stage: a, users: 1, iterations: 0}\n"
        "  - {stage: b, users: 1, iterations: 2, per_user: 2}\n"
        "  - {stage: c, rate: 5/s, per_user: 2}\n"
        "  - {stage: d, users: 3, ramp: 2s, per_user: 2}\n"
        "  - {stage: e, users: 1, iterations: many}\n"
    )
    assert _problems(text) == [
        "s.yaml:5:38: plan[0].iterations: must be at least 1, got 0",
        "s.yaml:6:5: plan[1]: a stage takes `iterations` or `per_user`, not both",
        "s.yaml:7:27: plan[2].per_user: `per_user` is for `users` stages (an open stage's "
        "arrivals are all new users): use `iterations`",
        "s.yaml:8:36: plan[3].per_user: `per_user` runs a fixed set of users: it cannot be "
        "combined with `ramp`",
        "s.yaml:9:38: plan[4].iterations: expected a whole number, got a string",
    ]


def test_the_python_api_writes_counted_stages() -> None:
    from loadlens.scenario import request, scenario, stage

    built = scenario(
        "s",
        target="http://h",
        steps=[request("GET", "/")],
        plan=[stage("a", users=2, iterations=10), stage("b", rate="10/s", iterations=5)],
    )
    assert built.plan[0].load == ClosedLoad(2, iterations=10)
    assert built.plan[1].load == OpenLoad(10.0, iterations=5)
