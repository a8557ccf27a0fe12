"""Reconciling the client's ledger with the database: a lossy service, and the clean demo."""

from __future__ import annotations

import asyncio
import itertools
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import uvicorn
from checks_client import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loadlens.checks import read_entity_values, reconcile
from loadlens.demo import DemoServer
from loadlens.demo.db import DATABASE_NAME
from loadlens.model.integrity import Ledger, ReconcileSpec

DROP_EVERY = 100  # the lossy service acknowledges every increment but applies 99 of 100


def lossy_app(path: Path) -> Starlette:
    sequence = itertools.count(1)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # a test service: no fsync per increment

    async def increment(request: Request) -> JSONResponse:
        number = int(request.path_params["id"])
        amount = int((await request.json())["amount"])
        if next(sequence) % DROP_EVERY != 0:
            conn.execute("UPDATE counters SET value = value + ? WHERE id = ?", (amount, number))
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/counters/{id}/increment", increment, methods=["POST"])])


@pytest.fixture
def lossy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "counters.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
        conn.executemany("INSERT INTO counters VALUES (?, 100)", [(k,) for k in range(1, 11)])
        conn.commit()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(lossy_app(path), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", path
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_lost_writes_of_a_lossy_service_are_found(lossy: tuple[str, Path]) -> None:
    url, path = lossy
    spec = ReconcileSpec(
        f"sqlite:///{path}", "SELECT id AS entity, value FROM counters WHERE id IN :entities"
    )
    entities = [str(k) for k in range(1, 11)]
    initial = read_entity_values(spec, entities, ("value",))
    ledger = Ledger()
    for k in range(1000):  # 1000 acknowledged increments; every 100th is dropped
        entity = entities[k % 10 if k < 500 else 3]
        with Client(url) as client:  # a connection each: keep-alive POSTs here stall on ACKs
            status, _ = client.post(f"/counters/{entity}/increment", {"amount": 1})
        if status == 200:
            ledger.add(entity, "value", 1.0)
    final = read_entity_values(spec, ledger.entities(), ("value",))
    result = reconcile(ledger, initial, final)
    assert result.acknowledged_writes == 1000 and result.checked == 10
    assert result.lost_amount == 1000 // DROP_EVERY
    assert result.phantom == 0 and not result.passed
    assert sum(d.writes for d in result.examples) <= 1000
    assert all(d.final is not None and d.final < d.expected for d in result.examples)


def test_the_clean_demo_loses_no_reservation(tmp_path: Path) -> None:
    with DemoServer(tmp_path) as server:
        assert server.url is not None
        spec = ReconcileSpec(
            "sqlite:///{{ demo_db }}",
            "SELECT id AS entity, scheduled_units FROM authorizations WHERE id IN :entities",
        )
        variables = {"demo_db": str(tmp_path / DATABASE_NAME)}
        entities = [str(k) for k in range(11, 16)]  # 200 units each
        initial = read_entity_values(spec, entities, ("scheduled_units",), variables=variables)
        workers = [Ledger() for _ in range(2)]
        with Client(server.url) as client:
            for k in range(100):
                entity, units = entities[k % 5], 1 + k % 4
                status, _ = client.post(f"/authorizations/{entity}/reserve", {"units": units})
                if status == 200:
                    workers[k % 2].add(entity, "scheduled_units", float(units))
        ledger = Ledger.from_dict(workers[0].to_dict())
        ledger.merge(workers[1])
        final = read_entity_values(
            spec, ledger.entities(), ("scheduled_units",), variables=variables
        )
    result = reconcile(ledger, initial, final)
    assert result.acknowledged_writes == 100 and result.checked == 5
    assert result.passed, result.to_dict()
