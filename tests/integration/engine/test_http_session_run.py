"""A whole run of a session-based app: setup logs in, its cookie seeds every user, redirects and
gzip bodies are followed and checked, auth helpers are sent, and no secret reaches a file."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.support.runs import run_scenario, write
from tests.support.webserver import BASIC, BEARER, WebServer

SESSION = """\
name: session-app
target: http://127.0.0.1:1
defaults:
  auth: {basic: [alice, "${env:BASIC_PW}"]}
setup:
  - request: {name: login, method: POST, url: /login}
    capture: {sid: {cookie: session}}
flows:
  - name: browse
    steps:
      - request: {name: me, url: /me}
        expect: {status: 200, checks: [{name: alice, jsonpath: $.user, equals: alice}]}
      - request: {name: chain, url: /redirect/2}
        expect: {status: 200, checks: [{name: done, jsonpath: $.done, equals: true}]}
      - request: {name: gzip, url: /gzip}
        expect: {checks: [{name: coded, jsonpath: $.coded, equals: gzip}]}
      - request: {name: bearer, url: /bearer, auth: {bearer: "${env:API_TOKEN}"}}
        expect: 200
      - request: {name: basic, url: /basic}
        expect: 200
plan:
  - {stage: s, users: 2, duration: 1s}
"""


def test_a_session_app_runs_clean_and_no_credential_or_cookie_is_written(tmp_path: Path) -> None:
    scenario = write(tmp_path / "session.yaml", SESSION)
    # `BASIC_PW` is no secret by its name: it is one because `auth: {basic: ...}` sends it.
    env = {"BASIC_PW": BASIC[1], "API_TOKEN": BEARER}
    server = WebServer()
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1", env=env)
    assert "Traceback" not in run.stderr
    run.assert_go_unless_starved()
    result = run.result()
    served = server.counters
    assert len(server.sessions) == served["POST /login"] == 1  # setup's login only
    assert result.operations["me"].outcomes == {"ok:200": served["GET /me"]}
    assert result.operations["chain"].outcomes == {"ok:200": served["GET /redirect/0"]}
    assert served["GET /redirect/2"] == served["GET /redirect/1"] == served["GET /redirect/0"]
    assert result.operations["gzip"].outcomes == {"ok:200": served["GET /gzip"]}
    assert result.operations["bearer"].outcomes == {"ok:200": served["GET /bearer"]}
    assert result.operations["basic"].outcomes == {"ok:200": served["GET /basic"]}
    assert served["GET /me"] > 0
    credential = base64.b64encode(":".join(BASIC).encode()).decode()
    needles = {BASIC[1], ":".join(BASIC), credential, BEARER, *server.sessions}
    written = [p for p in run.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"result.json", "frames.jsonl", "run.json"}
    for path in written:
        text = path.read_bytes().decode("utf-8", "replace")
        leaked = sorted(needle for needle in needles if needle in text)
        assert not leaked, f"{path.name} holds {leaked}"
    assert not [needle for needle in needles if needle in run.stdout + run.stderr]
