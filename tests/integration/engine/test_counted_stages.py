"""Iteration-count stages run exactly their count, split across workers, and then end."""

from __future__ import annotations

from pathlib import Path

from loadlens.metrics.result import StageResult
from tests.support.runs import op_counts, run_scenario, write
from tests.support.testserver import LocalServer

COUNTED = """\
name: counted
target: http://127.0.0.1:1
flows:
  - name: plain
    weight: 1
    steps:
      - request: {{name: find, method: GET, url: /users}}
  - name: tasked
    weight: 1
    steps:
      - request: {{name: create, method: POST, url: /users, json: {{a: 1}}}}
      - think: 1ms
plan:
  - {{stage: shared, users: 3, iterations: 101}}
  - {{stage: each, users: 5, per_user: 7, duration: 60s}}
  - {{stage: arrivals, rate: 400/s, iterations: 150}}
"""

PLAIN = """\
name: plain-counted
target: http://127.0.0.1:1
steps:
  - request: {name: find, method: GET, url: /users}
plan:
  - {stage: shared, users: 4, iterations: 333}
  - {stage: each, users: 3, per_user: 11}
  - {stage: limited, users: 2, iterations: 1000000, duration: 1s}
"""


def test_counted_stages_run_their_exact_count_on_two_workers(tmp_path: Path) -> None:
    scenario = write(tmp_path / "c.yaml", COUNTED.format())
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "2")
        served = server.counters()
    run.assert_go_unless_starved()
    result = run.result()
    iterations = [
        stage.operations["find"].count + stage.operations["create"].count for stage in result.stages
    ]
    assert iterations == [101, 5 * 7, 150]
    counts = op_counts(result)
    assert counts == {"find": served["GET /users"], "create": served["POST /users"]}
    assert result.health.dropped == 0
    # nothing waited for a time limit: the three stages together took seconds, not minutes
    assert all(_seconds(stage) < 30 for stage in result.stages)
    report = (run.run_dir / "report.md").read_text(encoding="utf-8")
    assert "3 users, 101 iterations in ≤ 600s" in report
    assert "5 users, 7 iterations per user in ≤ 60s" in report


def test_plain_users_count_too_and_a_duration_limits_the_count(tmp_path: Path) -> None:
    scenario = write(tmp_path / "p.yaml", PLAIN)
    with LocalServer("crud") as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
    run.assert_go_unless_starved()
    shared, each, limited = run.result().stages
    assert shared.operations["find"].count == 333
    assert each.operations["find"].count == 3 * 11
    # a million iterations do not fit in 1 s: the time limit ends the stage
    assert 0 < limited.operations["find"].count < 1_000_000
    assert _seconds(limited) < 15


def _seconds(stage: StageResult) -> float:
    assert stage.started_at is not None and stage.ended_at is not None
    return stage.ended_at - stage.started_at
