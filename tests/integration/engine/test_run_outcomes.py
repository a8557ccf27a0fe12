"""Outcomes a user must be told about: broken captures, bad scenarios, redacted secrets."""

from __future__ import annotations

from pathlib import Path

from tests.support.runs import run_scenario, write
from tests.support.testserver import LocalServer

MISSING_CAPTURE = """\
name: broken-chain
target: http://127.0.0.1:1
flows:
  - name: chain
    steps:
      - request: {name: create, method: POST, url: /users, json: {name: a}}
        capture: {id: $.user_id}
      - request: {name: read, method: GET, url: "/users/{{ id }}"}
plan:
  - {stage: s, users: 2, duration: 1s}
"""


def test_a_capture_that_misses_is_named_on_the_dependent_step(tmp_path: Path) -> None:
    scenario = write(tmp_path / "chain.yaml", MISSING_CAPTURE)
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
        served = server.counters()
    # Every iteration failed (create's capture, read never sent): the default gate
    # (error_rate < 5%) fails, so NO-GO whatever the CPU did.
    assert run.code == 1, run.stdout
    operations = run.result().operations
    creates = operations["create"].count
    assert operations["create"].outcomes == {"capture_failed:id": creates}
    # read was never sent: each iteration's read needed the id that create did not capture
    assert operations["read"].outcomes == {"missing_variable:id@create": creates}
    assert "GET /users/{id}" not in served
    assert served["POST /users"] == creates
    assert "missing variable `id` (capture in step `create` found nothing)" in run.stdout


def test_a_bad_scenario_sends_nothing(tmp_path: Path) -> None:
    scenario = write(tmp_path / "bad.yaml", MISSING_CAPTURE.replace("users: 2", "users: 0"))
    server = LocalServer("crud")
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs")
        served = server.counters()
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert f"{scenario}:10:" in run.stderr
    assert served == {}
    assert not (tmp_path / "runs").exists()


SECRET_HEADERS = """\
name: secret
target: http://127.0.0.1:1
defaults:
  headers:
    authorization: "Bearer ${env:LOADLENS_TEST_TOKEN}"
    cookie: "session=${env:LOADLENS_TEST_TOKEN}"
flows:
  - name: f
    steps:
      - request: {name: find, method: GET, url: "/users?t=${env:LOADLENS_TEST_TOKEN}"}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_secrets_never_reach_the_disk(tmp_path: Path) -> None:
    token = "tok-9f8e7d6c5b4a"
    scenario = write(tmp_path / "secret.yaml", SECRET_HEADERS)
    with LocalServer("crud") as url:
        run = run_scenario(
            scenario, url, tmp_path / "runs", "--workers", "1", env={"LOADLENS_TEST_TOKEN": token}
        )
    run.assert_go_unless_starved()
    assert run.result().operations["find"].count > 0
    written = list(run.run_dir.rglob("*"))
    assert {p.name for p in written} >= {"result.json", "frames.jsonl", "run.json"}
    for path in written:
        assert token not in path.read_text(encoding="utf-8"), path
    assert token not in run.stdout + run.stderr
