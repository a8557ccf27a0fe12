"""A real CRUD server and a 70/30 scenario chained by captures: loadlens counts what it served."""

from __future__ import annotations

from pathlib import Path

from loadlens import native
from tests.support.runs import op_counts, run_scenario, write
from tests.support.testserver import LocalServer

CRUD_70_30 = """\
name: crud-70-30
target: http://127.0.0.1:1
defaults:
  headers: {{content-type: application/json}}
flows:
  - name: crud
    weight: 70
    steps:
      - request: {{name: create, method: POST, url: /users, json: {{name: "u{{{{ user_id }}}}"}}}}
        expect: {{status: 201}}
        capture: {{id: $.id}}
      - request: {{name: read, method: GET, url: "/users/{{{{ id }}}}"}}
        expect:
          checks: [{{name: same-id, jsonpath: $.id, exists: true}}]
      - request: {{name: update, method: PUT, url: "/users/{{{{ id }}}}", json: {{age: 41}}}}
  - name: browse
    weight: 30
    steps:
      - request: {{name: find, method: GET, url: "/users?limit=20"}}
plan:
  - {{stage: closed, users: 6, duration: {closed}}}
  - {{stage: open, rate: 300/s, duration: {open}}}
"""


def test_counts_per_operation_equal_the_servers_own(tmp_path: Path) -> None:
    scenario = write(tmp_path / "crud.yaml", CRUD_70_30.format(closed="2s", open="2s"))
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "2")
        served = server.counters()
    run.assert_go_unless_starved()
    result = run.result()
    assert result.complete and not result.interrupted
    counts = op_counts(result)
    assert counts == {
        "create": served["POST /users"],
        "read": served["GET /users/{id}"],
        "update": served["PUT /users/{id}"],
        "find": served["GET /users"],
    }
    # every chained request succeeded: the captured id was used by read and update
    assert result.total.errors == 0
    assert result.operations["read"].outcomes == {"ok:200": counts["read"]}
    # the flows ran in about a 70/30 mix (binomial spread on thousands of iterations)
    crud_share = counts["create"] / (counts["create"] + counts["find"])
    assert 0.64 < crud_share < 0.76, crud_share
    # both stages ran, and each worker's frames were merged
    assert [stage.ran for stage in result.stages] == [True, True]
    # every open-stage arrival's dispatch lateness, from both workers (none from closed users)
    opened = result.stages[1].operations
    assert result.health.lateness is not None
    assert result.health.lateness.count == opened["create"].count + opened["find"].count
    assert all(stage.total.count > 0 for stage in result.stages)
    assert "Operations" in run.stdout and "create" in run.stdout
    # the result says whether the per-request code ran compiled: it did whenever it was built
    built = native.build_state() == "compiled"
    assert result.run.hot_path == ("compiled (mypyc)" if built else "interpreted")


def test_the_open_stage_sends_on_schedule(tmp_path: Path) -> None:
    scenario = write(tmp_path / "crud.yaml", CRUD_70_30.format(closed="1s", open="2s"))
    with LocalServer("crud") as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
    run.assert_go_unless_starved()
    closed, opened = run.result().stages
    assert closed.info.latency_origin == "actual"
    assert opened.info.latency_origin == "scheduled"
    # 300 iterations/s for 2 s, each one flow: create-read-update (70 %) or find (30 %)
    iterations = opened.operations["create"].count + opened.operations["find"].count
    assert iterations == 600
