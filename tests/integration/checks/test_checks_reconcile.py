"""Reconciling the client's ledger with the database: a lossy service, and the clean demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from checks_client import Client

from loadlens.checks import read_entity_values, reconcile
from loadlens.demo import DemoServer
from loadlens.demo.db import DATABASE_NAME
from loadlens.model.integrity import Ledger, ReconcileSpec
from tests.support.lossy import DROP_EVERY, lossy_service


@pytest.fixture
def lossy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with lossy_service(tmp_path) as served:
        yield served


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
