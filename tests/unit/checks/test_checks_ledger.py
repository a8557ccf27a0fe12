from __future__ import annotations

import json

from loadlens.checks import reconcile
from loadlens.model.integrity import Ledger, LedgerRule
from loadlens.model.template import VarRef
from loadlens.spec.templates import compile_template


def test_ledgers_merge_and_round_trip_through_json() -> None:
    a, b = Ledger(), Ledger()
    a.add("1", "units", 2)
    a.add("2", "units", 1)
    b.add("1", "units", -1)
    b.add("3", "other", 5)
    a.merge(b)
    assert (a.writes, a.delta("1", "units"), a.count("1", "units")) == (4, 1.0, 2)
    assert a.entities() == ["1", "2", "3"]
    assert Ledger.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_reconcile_reports_lost_phantom_and_vanished() -> None:
    ledger = Ledger()
    for entity, delta in [("a", 1), ("a", 1), ("b", 2), ("c", 1), ("d", 3)]:
        ledger.add(entity, "n", delta)
    initial = {("a", "n"): 10.0, ("b", "n"): 0.0, ("c", "n"): 5.0, ("d", "n"): 0.0}
    final = {("a", "n"): 12.0, ("b", "n"): 1.0, ("c", "n"): 7.0}
    result = reconcile(ledger, initial, final, max_examples=2)
    assert (result.checked, result.lost, result.phantom) == (4, 2, 1)
    assert (result.lost_amount, result.phantom_amount) == (4.0, 1.0)
    assert [d.entity for d in result.examples] == ["b", "c"]
    assert result.examples[0].difference == -1.0 and not result.passed
    assert result.to_dict()["passed"] is False


def test_a_rule_renders_entity_and_delta_from_the_request_variables() -> None:
    rule = LedgerRule(
        "reserve",
        frozenset({200}),
        compile_template("{{ auth_id }}"),
        "scheduled_units",
        compile_template("{{ units }}"),
    )
    values = {"auth_id": 7, "units": 3}

    def lookup(ref: VarRef) -> object:
        return values[ref.name]

    assert rule.entry(200, lookup) == ("7", 3.0)
    assert rule.entry(409, lookup) is None
