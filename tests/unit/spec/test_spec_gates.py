"""Gates and tags in scenarios: parsed at load, filters resolved, problems located."""

from __future__ import annotations

import pytest

from loadlens.errors import SpecError
from loadlens.model.scenario import RequestStep
from loadlens.model.threshold import Metric
from loadlens.scenario import flow, request, scenario, stage
from loadlens.spec import parse_yaml_text

FLOWS = """\
name: s
target: http://h
flows:
  - name: crud
    steps:
      - request: {name: create, method: POST, url: /u, tags: [write]}
        expect: {status: [201, 409], checks: [{name: has_id, jsonpath: $.id, exists: true}]}
      - request: {name: read, url: /u/1}
  - name: browse
    steps:
      - request: {name: find, url: /u, tags: [read-only]}
observe:
  - json: http://h/health
    metrics: {cache_hit_rate: $.cache.rate}
"""


def _load(plan: str, thresholds: str = ""):  # type: ignore[no-untyped-def]
    return parse_yaml_text(FLOWS + thresholds + plan, file="s.yaml")


def _problems(plan: str, thresholds: str = "") -> list[str]:
    with pytest.raises(SpecError) as caught:
        _load(plan, thresholds)
    return [p.render() for p in caught.value.problems]


def test_gates_are_parsed_and_resolved() -> None:
    loaded = _load(
        "plan:\n"
        "  - stage: load\n"
        "    users: 2\n"
        "    duration: 10s\n"
        '    gates: ["p95{op:read} < 20ms", "error_rate{flow:crud,tag:write} < 1%",\n'
        '            "rate(check=has_id) > 99%", "cache_hit_rate > 0.9", "rps >= 10"]\n',
        thresholds="thresholds: [p99 < 1s]\n",
    )
    (load,) = loaded.plan
    read, writes, check, observed, rps = load.gates
    assert read.operations == frozenset({"read"})
    assert writes.operations == frozenset({"create"})
    assert check.operations == frozenset({"create"})
    assert observed.metric is Metric.OBSERVED and observed.operations is None
    assert rps.operations is None
    assert [g.describe() for g in loaded.stage_gates(load)][:2] == [
        "p99 < 1000ms",
        "p95{op:read} < 20ms",
    ]
    step = loaded.flows[0].steps[0]
    assert isinstance(step, RequestStep) and step.request.tags == ("write",)


def test_bad_gates_are_located() -> None:
    plan = (
        "plan:\n"
        "  - {stage: a, users: 1, duration: 1s, gates: [p9x < 1ms, 'p95 < 2kb']}\n"
        "  - stage: b\n"
        "    users: 1\n"
        "    duration: 1s\n"
        "    gates:\n"
        "      - p95{op:raed} < 1ms\n"
        "      - error_rate{tag:nope} < 1%\n"
        "      - rate(check=has_idd) > 1%\n"
        "      - eror_rate < 1%\n"
        "      - late{op:read} < 3\n"
        "      - p95{op:find,flow:crud} < 1ms\n"
    )
    assert _problems(plan) == [
        "s.yaml:16:48: plan[0].gates[0]: unknown metric `p9x` (column 1 of `p9x < 1ms`)"
        " (did you mean `p99`?)",
        "s.yaml:16:59: plan[0].gates[1]: unknown unit `kb` (column 8 of `p95 < 2kb`)",
        "s.yaml:21:9: plan[1].gates[0]: no operation named `raed` (did you mean `read`?)",
        "s.yaml:22:9: plan[1].gates[1]: no tag named `nope` (tag requests with `tags: [NAME]`)",
        "s.yaml:23:9: plan[1].gates[2]: no request has a check named `has_idd`"
        " (did you mean `has_id`?)",
        "s.yaml:24:9: plan[1].gates[3]: unknown metric `eror_rate` (did you mean `error_rate`?)",
        "s.yaml:25:9: plan[1].gates[4]: `late` is measured for the generator, not per operation",
        "s.yaml:26:9: plan[1].gates[5]: the filters select no operation together",
    ]


def test_bad_scenario_thresholds_and_tags() -> None:
    text = (
        "name: s\ntarget: http://h\nthresholds: [p95 <]\n"
        "steps: [{request: {url: /, tags: ['a b']}}]\n"
        "plan: [{stage: a, users: 1, duration: 1s}]\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(text, file="s.yaml")
    assert [p.render() for p in caught.value.problems] == [
        "s.yaml:3:14: thresholds[0]: expected a number (column 6 of `p95 <`)",
        "s.yaml:4:35: steps[0].request.tags[0]: bad tag `a b`: use letters, digits, `_`, `-`, `.`",
    ]


def test_python_api_takes_tags_and_gates() -> None:
    built = scenario(
        "s",
        target="http://h",
        flows=[flow("crud", [request("POST", "/u", name="create", tags=["write"])])],
        plan=[stage("load", users=1, duration="1s", gates=["p95{tag:write} < 20ms abort"])],
    )
    (gate,) = built.plan[0].gates
    assert gate.operations == frozenset({"create"}) and gate.abort
