"""Secrets never reach a file: env secrets in every encoding, and tokens the service issues."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, quote_plus

from tests.support.hostileserver import HostileServer
from tests.support.runs import run_scenario, write

LETTERS_SECRET = "abcdefghij"  # letters only: its shape would be itself
BASE64_SECRET = "QUJDREVGR0hJSks+/w=="  # base64-like: `+`, `/`, `=` are percent-encoded

SECRETS = """\
name: secrets
target: http://127.0.0.1:1
flows:
  - name: f
    steps:
      - request:
          name: login
          method: POST
          url: "/login?key=${env:API_TOKEN}"
          query: {sig: "${env:SIGNING_KEY}"}
        capture: {token: $.token, echo: $.key}
      - request:
          name: me
          url: "/me?e={{ echo }}"
          headers: {authorization: "Bearer {{ token }}"}
        expect: {status: 200}
plan:
  - {stage: s, users: 2, duration: 1s}
"""


def _forms(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value)}


def test_env_and_captured_secrets_are_in_no_file_of_the_run(tmp_path: Path) -> None:
    scenario = write(tmp_path / "secrets.yaml", SECRETS)
    env = {"API_TOKEN": LETTERS_SECRET, "SIGNING_KEY": BASE64_SECRET}
    server = HostileServer()
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1", env=env)
        tokens = server.tokens()
        served = server.counters()
    # Every `me` is a 403 by design (its body names the token): half the requests failed, so the
    # default gate (error_rate < 5%) fails, whatever the CPU did.
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    result = run.result()
    assert result.operations["login"].outcomes == {"ok:200": served["POST /login"]}
    assert result.operations["me"].outcomes == {"status:403": served["GET /me"]}
    assert len(tokens) == served["POST /login"] > 0
    needles = {*_forms(LETTERS_SECRET), *_forms(BASE64_SECRET), *tokens}
    written = [p for p in run.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"result.json", "frames.jsonl", "run.json"}
    for path in written:
        text = path.read_bytes().decode("utf-8", "replace")
        leaked = sorted(needle for needle in needles if needle in text)
        assert not leaked, f"{path.name} holds {leaked}"
    assert not [needle for needle in needles if needle in run.stdout + run.stderr]
    # What was redacted still tells the story: the shapes say a secret was there.
    (stage,) = result.stages
    features = stage.diagnostics["me"].features.counts
    assert "v:echo=<secret>" in features and "v:token=<secret>" not in features
