"""DemoServer's lifecycle: a child process on a free port, stopped cleanly, failures reported."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest

from loadlens.demo import DemoServer


def test_start_serves_on_a_free_port_and_stop_is_idempotent(tmp_path: Path) -> None:
    server = DemoServer(tmp_path / "data", seed_users=3)
    url = server.start()
    assert url == server.url and url.startswith("http://127.0.0.1:")
    assert server.pid is not None and server.pid != os.getpid()
    assert (tmp_path / "data" / "demo.sqlite3").exists()
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        statuses = []
        for path in ("/users/user-2", "/users/user-3"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        assert statuses == [200, 404], "only 3 users were seeded"
    finally:
        conn.close()

    server.stop()
    server.stop()
    assert server.url is None
    refused = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    with pytest.raises(ConnectionRefusedError):
        refused.request("GET", "/health")
    refused.close()


def test_two_servers_run_side_by_side(tmp_path: Path) -> None:
    with DemoServer(tmp_path / "a") as a, DemoServer(tmp_path / "b") as b:
        assert a.url != b.url


def test_a_service_that_cannot_start_is_reported(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    server = DemoServer(not_a_directory)
    with pytest.raises(RuntimeError, match="cannot start the demo service: FileExistsError"):
        server.start()
    assert server.url is None
    server.stop()


def test_starting_twice_is_an_error(tmp_path: Path) -> None:
    with DemoServer(tmp_path) as server, pytest.raises(RuntimeError, match="already started"):
        server.start()
