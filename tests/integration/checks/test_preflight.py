"""The preflight: a database, observer or target the run needs but cannot reach stops `run`
with exit 2 before any request, and what needs no network is already refused by `validate`."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.runs import loadlens, write

SCENARIO = """\
name: preflight
target: {target}
flows:
  - name: f
    steps:
      - request: {{name: r, url: /x}}
plan:
  - {{stage: a, users: 1, duration: 1s}}
"""
INVARIANT = """\
invariants:
  - name: nothing broken
    sql: SELECT 1 WHERE 1 = 0
    db: "{db}"
"""
OBSERVER = """\
observe:
  sources:
    - json: "http://127.0.0.1:{port}/metrics"
"""


class _Counting(BaseHTTPRequestHandler):
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[tuple[str, type[_Counting]]]:
    """A service on 127.0.0.1 that counts the requests it receives."""
    handler = type("Counting", (_Counting,), {"requests": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(tmp_path: Path, scenario: Path, *extra: str) -> tuple[int, str]:
    out = tmp_path / "runs"
    run = loadlens("run", str(scenario), "--quiet", "--out", str(out), *extra, out=out)
    output = run.stdout + run.stderr
    assert "Traceback" not in output
    return run.code, output


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("nope://x", "bad database URL"),
        ("mysql://127.0.0.1/shop", "the database driver `MySQLdb` is not installed"),
    ],
)
def test_an_unusable_database_url_is_refused_by_validate_and_run(
    tmp_path: Path, db: str, message: str
) -> None:
    with _server() as (url, counted):
        scenario = write(tmp_path / "s.yaml", SCENARIO.format(target=url) + INVARIANT.format(db=db))
        validated = loadlens("validate", str(scenario), out=tmp_path)
        assert validated.code == 2, validated.stdout
        assert f"invariant `nothing broken`: {message}" in validated.stderr
        code, output = _run(tmp_path, scenario)
        assert code == 2
        assert message in output
        assert counted.requests == 0


def test_an_unreachable_database_stops_the_run_before_any_request(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with _server() as (url, counted):
        scenario = write(
            tmp_path / "s.yaml",
            SCENARIO.format(target=url) + INVARIANT.format(db=f"sqlite:///{missing}"),
        )
        assert loadlens("validate", str(scenario), out=tmp_path).code == 0  # needs the network
        code, output = _run(tmp_path, scenario)
        assert code == 2
        assert "preflight failed, nothing was sent" in output
        assert f"no SQLite database at `{missing}`" in output
        assert counted.requests == 0
    assert not missing.exists()  # the preflight did not create it


def test_an_unreachable_observer_stops_the_run_before_any_request(tmp_path: Path) -> None:
    with _server() as (url, counted):
        scenario = write(
            tmp_path / "s.yaml",
            SCENARIO.format(target=url) + OBSERVER.format(port=_closed_port()),
        )
        code, output = _run(tmp_path, scenario)
        assert code == 2
        assert "observer" in output and "refused" in output.lower()
        assert counted.requests == 0


def test_an_unreachable_target_stops_the_run(tmp_path: Path) -> None:
    port = _closed_port()
    scenario = write(tmp_path / "s.yaml", SCENARIO.format(target=f"http://127.0.0.1:{port}"))
    code, output = _run(tmp_path, scenario)
    assert code == 2
    assert f"target http://127.0.0.1:{port}: cannot connect to 127.0.0.1 port {port}" in output
    assert not (tmp_path / "runs").exists()


def test_a_reachable_setup_passes_the_preflight_and_runs(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    import sqlite3

    sqlite3.connect(database).close()
    with _server() as (url, counted):
        scenario = write(
            tmp_path / "s.yaml",
            SCENARIO.format(target=url)
            + INVARIANT.format(db=f"sqlite:///{database}")
            + OBSERVER.format(port=url.rsplit(":", 1)[1]),
        )
        code, output = _run(tmp_path, scenario, "--workers", "1")
        assert code in (0, 3), output
        assert counted.requests > 0


def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    port = _closed_port()
    with _server() as (url, counted):
        scenario = write(
            tmp_path / "s.yaml",
            SCENARIO.format(target=url)
            + INVARIANT.format(db=f"postgresql://app:s3cr3t-pw@127.0.0.1:{port}/shop"),
        )
        code, output = _run(tmp_path, scenario)
        assert code == 2
        assert f"database postgresql://app:***@127.0.0.1:{port}/shop" in output
        assert "s3cr3t-pw" not in output
        assert counted.requests == 0
    unparseable = write(
        tmp_path / "u.yaml",
        SCENARIO.format(target="http://127.0.0.1:8000")
        + INVARIANT.format(db="postgresql://app:s3cr3t-pw@[::1/shop"),
    )
    validated = loadlens("validate", str(unparseable), out=tmp_path)
    assert validated.code == 2
    assert "s3cr3t-pw" not in validated.stdout + validated.stderr
