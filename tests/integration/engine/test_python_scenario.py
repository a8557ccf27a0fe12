"""A scenario written with the Python API runs like YAML: setup fills a pool, feeders feed."""

from __future__ import annotations

from pathlib import Path

from tests.support.runs import op_counts, run_scenario, write
from tests.support.testserver import LocalServer

PYTHON_SCENARIO = """\
from loadlens.scenario import feeder, flow, group, request, scenario, stage, think

scenario = scenario(
    "python-crud",
    target="http://127.0.0.1:1",
    headers={"content-type": "application/json"},
    data={"names": feeder(csv="names.csv", order="sequential")},
    setup=[
        request("POST", "/users", name="seed-user", json={"name": "{{ names.name }}"},
                expect=201, capture={"pool.user_ids": "$.id"}, repeat=20),
    ],
    flows=[
        flow("crud", weight=1, steps=[
            request("POST", "/users", name="create", json={"name": "{{ names.name }}"},
                    expect=201, capture={"id": "$.id"}),
            request("GET", "/users/{{ id }}", name="read"),
            group("pooled", repeat=2, steps=[
                request("GET", "/users/{{ pool.user_ids }}", name="read-pooled"),
                think("1ms", "3ms"),
            ]),
        ]),
    ],
    plan=[stage("only", users=3, iterations=60)],
)
"""


def test_python_scenario_with_setup_pool_and_feeder(tmp_path: Path) -> None:
    write(tmp_path / "names.csv", "name\nada\ngrace\nlinus\n")
    scenario = write(tmp_path / "crud.py", PYTHON_SCENARIO)
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "2")
        served = server.counters()
    run.assert_go_unless_starved()  # what it checks is counts: a busy machine may starve it
    result = run.result()
    counts = op_counts(result)
    assert counts["seed-user"] == 20
    assert counts["create"] == counts["read"] == 60  # the count, split across both workers
    assert counts["create"] + 20 == served["POST /users"]
    assert counts["read"] + counts["read-pooled"] == served["GET /users/{id}"]
    assert counts["read-pooled"] == 2 * counts["read"]
    # the pool was filled by setup in the coordinator and shipped to both workers
    assert result.operations["read-pooled"].outcomes == {"ok:200": counts["read-pooled"]}
    assert [stage.info.name for stage in result.stages] == ["setup", "only"]
