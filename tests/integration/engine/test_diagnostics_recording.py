"""The runner records what the diagnosis needs, end to end: `loadlens run` against real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadlens.demo import DemoServer
from loadlens.metrics.diagnostics import OpDiagnostics
from loadlens.metrics.result import RunResult
from tests.support.runs import loadlens, write
from tests.support.testserver import LocalServer


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[list[DemoServer]]:
    servers: list[DemoServer] = []
    yield servers
    for server in servers:
        server.stop()


def _start(demo: list[DemoServer], tmp_path: Path, *faults: str) -> str:
    server = DemoServer(tmp_path / "demo", faults=faults)
    demo.append(server)
    return server.start()


def _run(tmp_path: Path, text: str, *extra: str) -> RunResult:
    scenario = write(tmp_path / "scenario.yaml", text)
    finished = loadlens(
        "run",
        str(scenario),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        *extra,
        out=tmp_path / "out",
    )
    assert finished.code in (0, 1, 3), finished.stderr  # 3: the findings make it inconclusive
    return finished.result()


def _diagnostics(result: RunResult, op: str) -> OpDiagnostics:
    merged = OpDiagnostics()
    for stage in result.stages:
        if op in stage.diagnostics:
            merged.merge(stage.diagnostics[op])
    return merged


CURSOR = """
name: cursor
target: {target}
flows:
  - name: plain
    steps:
      - request: {{name: history, method: GET, url: /conversations/general/messages,
                  query: {{limit: "5"}}}}
  - name: paged
    steps:
      - request: {{name: history, method: GET, url: /conversations/general/messages,
                  query: {{limit: "5", cursor: "abc="}}}}
plan:
  - {{stage: s, users: 4, iterations: 200}}
"""


def test_a_query_key_is_counted_exactly_with_the_failures_it_causes(
    tmp_path: Path, demo: list[DemoServer]
) -> None:
    url = _start(demo, tmp_path)
    result = _run(tmp_path, CURSOR.format(target=url), "--workers", "2")
    outcomes = result.operations["history"].outcomes
    diagnostics = _diagnostics(result, "history")
    counts = diagnostics.features.counts
    assert outcomes["status:400"] > 0 and outcomes["ok:200"] > 0
    assert counts["q:cursor"] == {"status:400": outcomes["status:400"]}
    assert counts["q:limit"] == outcomes
    template = next(t for t in diagnostics.templates if t.outcome == "status:400")
    assert "invalid cursor" in template.template and template.count == outcomes["status:400"]
    failed = [s for s in diagnostics.samples if s.outcome == "status:400"]
    assert failed and all("cursor=abc%3D" in s.target and s.status == 400 for s in failed)
    assert any(s.outcome == "ok:200" for s in diagnostics.samples)


ID_FORMAT = """
name: ids
target: {target}
defaults:
  headers: {{content-type: application/json}}
setup:
  - request: {{name: seed, method: GET, url: /users, query: {{limit: "5"}}}}
    capture: {{pool.user_ids: {{jsonpath: "$.items[*].id", all: true}}}}
flows:
  - name: create
    steps:
      - request: {{name: create, method: POST, url: /users,
                  json: {{name: "user {{{{ uuid }}}}"}}}}
        expect: {{status: 201}}
        capture: {{id: $.id}}
      - request: {{name: read, method: GET, url: "/users/{{{{ id }}}}"}}
  - name: pooled
    steps:
      - request: {{name: read, method: GET, url: "/users/{{{{ pool.user_ids }}}}"}}
plan:
  - {{stage: s, users: 4, iterations: 200}}
"""


def test_captured_ids_of_the_wrong_shape_show_with_their_404s(
    tmp_path: Path, demo: list[DemoServer]
) -> None:
    url = _start(demo, tmp_path, "id-format")
    result = _run(tmp_path, ID_FORMAT.format(target=url), "--workers", "1")
    counts = _diagnostics(result, "read").features.counts
    outcomes = result.operations["read"].outcomes
    # token_hex(4) is all digits now and then (2 %): that value's shape is `doc_<int>`
    shapes = {k: v for k, v in counts.items() if k.startswith("v:id=")}
    assert set(shapes) <= {"v:id=doc_<hex>", "v:id=doc_<int>"}
    assert all(set(by) == {"status:404"} for by in shapes.values())
    assert sum(by["status:404"] for by in shapes.values()) == outcomes["status:404"]
    assert shapes["v:id=doc_<hex>"]["status:404"] > 0.9 * outcomes["status:404"]
    assert counts["src:id@create"] == {"status:404": outcomes["status:404"]}
    assert set(counts["v:pool.user_ids=user-<int>"]) == {"ok:200"}
    assert counts["src:pool.user_ids@pool"] == {"ok:200": outcomes["ok:200"]}
    samples = _diagnostics(result, "read").samples
    assert any(s.variables.get("id", "").startswith("doc_") for s in samples)


TOKEN_RACE = """
name: race
target: {target}
defaults:
  headers: {{content-type: application/json}}
data:
  accounts: {{csv: accounts.csv, order: random}}
flows:
  - name: login
    steps:
      - request: {{name: login, method: POST, url: /auth/login,
                  json: {{username: "{{{{ accounts.username }}}}", password: secret}}}}
        expect: {{status: 200}}
plan:
  - {{stage: s, users: 6, iterations: 300}}
"""


def test_concurrent_logins_of_one_user_concentrate_on_the_500s(
    tmp_path: Path, demo: list[DemoServer]
) -> None:
    url = _start(demo, tmp_path, "token-race")
    (tmp_path / "accounts.csv").write_text("username\nuser0\nuser1\nuser2\n", encoding="utf-8")
    result = _run(tmp_path, TOKEN_RACE.format(target=url), "--workers", "1")
    diagnostics = _diagnostics(result, "login")
    outcomes = result.operations["login"].outcomes
    failed, ok = outcomes.get("status:500", 0), outcomes.get("ok:200", 0)
    assert failed > 0 and ok > 0, outcomes
    overlap = diagnostics.features.counts["overlap:accounts.username"]
    assert overlap.get("status:500", 0) / failed > overlap.get("ok:200", 0) / ok
    assert any("UNIQUE constraint failed" in t.template for t in diagnostics.templates)
    assert diagnostics.features.counts["v:accounts.username=user<int>"] == outcomes


DELAYS = """
name: delays
target: {target}
flows:
  - name: get
    steps:
      - request: {{name: get, method: GET, url: /anything}}
plan:
  - {{stage: s, users: 2, iterations: 100}}
"""


def test_the_servers_delay_shows_as_wait_time() -> None:
    with LocalServer("delays") as url:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            result = _run(Path(tmp), DELAYS.format(target=url), "--workers", "1")
    phases = _diagnostics(result, "get").phases
    assert phases.responses == result.operations["get"].count > 0
    assert phases.wait_us > 5 * (phases.connect_us + phases.send_us + phases.receive_us)
    assert phases.wait_us / phases.responses >= 9_000  # 10 ms most of the time
    assert 1 <= phases.new_connections <= 2
