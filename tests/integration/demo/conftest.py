from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loadlens.demo import DemoServer


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo service without faults, shared by a test module."""
    with DemoServer(tmp_path_factory.mktemp("demo")) as server:
        yield server


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., DemoServer]]:
    """Start a demo service with the given options; stopped after the test."""
    servers: list[DemoServer] = []

    def start(**options: Any) -> DemoServer:
        server = DemoServer(tmp_path / f"demo{len(servers)}", **options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
