"""`loadlens run` options no other test drives: --insecure (against a local HTTPS server with
a self-signed certificate), --store (where the run is recorded) and `--version`."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from loadlens import __version__
from loadlens.cli.main import cli
from tests.support.runs import Finished, loadlens, run_scenario, write
from tests.support.testserver import LocalServer

SCENARIO = """\
name: tls
target: https://127.0.0.1:1
steps:
  - request: {name: ping, method: GET, url: /ping}
    expect: {status: 200}
plan:
  - {stage: once, users: 1, iterations: 20}
"""


class _Ping(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    paths: ClassVar[list[str]] = []  # every path requested, in order (list.append is thread-safe)

    def do_GET(self) -> None:
        self.paths.append(self.path)
        body = b"pong"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@pytest.fixture(scope="module")
def https_url() -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate no trusted CA signed (trustme's own)."""
    import trustme

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_insecure_accepts_a_self_signed_certificate_and_store_records_the_run(
    https_url: str, tmp_path: Path
) -> None:
    scenario = write(tmp_path / "tls.yaml", SCENARIO)
    store = tmp_path / "elsewhere.db"
    secure = run_scenario(scenario, https_url, tmp_path / "secure", "--workers", "1")
    assert secure.code == 1, secure.stdout + secure.stderr  # NO-GO: every request refused
    assert secure.result().operations["ping"].outcomes == {"error:tls": 20}

    insecure = run_scenario(
        scenario, https_url, tmp_path / "insecure", "--workers", "1", "--insecure",
        "--store", f"sqlite:///{store}",
    )  # fmt: skip
    insecure.assert_go_unless_starved()
    ping = insecure.result().operations["ping"]
    assert ping.outcomes == {"ok:200": 20}
    # --store: recorded there, not in the default history.db beside the runs
    assert not (tmp_path / "insecure" / "history.db").exists()
    listed = CliRunner().invoke(
        cli, ["history", "--store", f"sqlite:///{store}", "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    assert [row["run_id"] for row in json.loads(listed.output)] == [insecure.run_dir.name]


def test_quick_takes_insecure_and_fills_its_url_with_var(https_url: str, tmp_path: Path) -> None:
    _Ping.paths.clear()
    quick = loadlens(
        "quick", https_url + "/t/{{ who }}", "--var", "who=w1", "--insecure",
        "-u", "1", "-d", "1s", "--workers", "1", "--quiet", "--out", str(tmp_path), out=tmp_path,
    )  # fmt: skip
    quick.assert_go_unless_starved()
    (operation,) = quick.result().operations.values()
    assert operation.count > 0
    assert operation.outcomes == {"ok:200": operation.count}  # TLS accepted unverified
    assert _Ping.paths == ["/t/w1"] * operation.count


def test_version_names_the_program_and_its_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert (result.exit_code, result.output) == (0, f"loadlens, version {__version__}\n")


TWO_STAGES = """\
name: staged
target: http://127.0.0.1:1
steps:
  - request: {name: list, method: GET, url: /users}
plan:
  - {stage: warm, users: 1, duration: 1s}
  - {stage: hot, users: 1, duration: 1s}
"""


def test_stage_limits_an_override_to_the_stage_named(tmp_path: Path) -> None:
    scenario = write(tmp_path / "staged.yaml", TWO_STAGES)
    with LocalServer("crud") as url:
        run = run_scenario(
            scenario, url, tmp_path / "runs", "--workers", "1", "-u", "3", "--stage", "hot"
        )
    run.assert_go_unless_starved()
    users = [(s.info.name, s.info.load["users"]) for s in run.result().stages]
    assert users == [("warm", 1), ("hot", 3)]


def test_quiet_leaves_out_the_live_view_which_otherwise_ends_its_line(tmp_path: Path) -> None:
    # Outside a terminal the live view prints each stage's last frame once, when it ends.
    def quick(url: str, name: str, *options: str) -> Finished:
        out = tmp_path / name
        return loadlens(
            "quick", f"{url}/users", "-u", "1", "-d", "1s", "--workers", "1", "--out", str(out),
            *options, out=out,
        )  # fmt: skip

    with LocalServer("crud") as url:
        shown, quiet = quick(url, "shown"), quick(url, "quiet", "--quiet")
    for run in (shown, quiet):
        run.assert_go_unless_starved()
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("stage 1/1 quick · users "), shown.stdout
    assert "gates so far" in lines
    # the summary starts on its own line (it was glued to the last gate's line)
    assert f"loadlens run {shown.run_dir.name}" in lines, shown.stdout
    assert quiet.stdout.startswith(f"loadlens run {quiet.run_dir.name}\n"), quiet.stdout
    assert "gates so far" not in quiet.stdout
