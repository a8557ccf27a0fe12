"""The machine's limits: users beyond file descriptors or memory, rates beyond the ceiling."""

from __future__ import annotations

import resource

import pytest

from loadlens.engine import limits
from loadlens.engine.limits import machine_problems
from loadlens.spec import parse_yaml_text

SCENARIO = """\
name: s
target: http://127.0.0.1:8000
steps: [{{request: {{url: /}}}}]
plan:
  - {{stage: a, {load}, duration: 1s}}
"""


def _problems(load: str, workers: int) -> list[str]:
    scenario = parse_yaml_text(SCENARIO.format(load=load), file="s.yaml")
    return [p.render() for p in machine_problems(scenario, workers)]


@pytest.fixture
def hard_limit_1024(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits.resource, "getrlimit", lambda _which: (256, 1024))


@pytest.mark.usefixtures("hard_limit_1024")
def test_users_beyond_the_descriptor_limit_of_a_worker() -> None:
    assert _problems("users: 960", workers=1) == []
    (problem,) = _problems("users: 1922", workers=2)
    assert problem.startswith(
        "s.yaml:5:0: plan[0].users: 1,922 users need 961 connections per worker (2 workers), "
        "beyond the 1,024 file descriptors a process may open here (raise the limit with"
    )


def test_users_beyond_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits.resource, "getrlimit", lambda _which: (1 << 30, 1 << 30))
    memory = limits.psutil.virtual_memory().total
    users = memory // limits.BYTES_PER_USER + 1
    (problem,) = _problems(f"users: {users}", workers=1 << 20)
    assert f"{users:,} users need about" in problem
    assert "more than this machine's" in problem


def test_a_rate_beyond_the_ceiling_per_worker() -> None:
    assert _problems("rate: 200000/s", workers=2) == []
    (problem,) = _problems("rate: 200001/s", workers=2)
    assert "200,001/s is beyond what 2 workers can start (100,000/s each at most" in problem
    (ramped,) = _problems("rate: 10/s, from: 300000/s", workers=2)
    assert "300,000/s" in ramped


def test_an_unlimited_descriptor_limit_is_a_large_number(monkeypatch: pytest.MonkeyPatch) -> None:
    infinity = resource.RLIM_INFINITY
    monkeypatch.setattr(limits.resource, "getrlimit", lambda _which: (infinity, infinity))
    assert limits.descriptor_limit() == 1 << 20
