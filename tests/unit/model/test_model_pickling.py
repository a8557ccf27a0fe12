"""A scenario reaches its workers pickled: every part of it survives the round trip.

Templates, variable references and JSONPaths are compiled by mypyc when `make native` has run
(`make test` runs it first); a compiled frozen dataclass cannot be unpickled field by field, so
these cases fail unless each of them rebuilds itself (`__reduce__`).
"""

from __future__ import annotations

import pickle
from pathlib import Path

from loadlens.model.jsonpath import parse_jsonpath
from loadlens.model.template import Template, VarRef, VarSource
from loadlens.spec import load_scenario

FIXTURES = Path(__file__).parents[2] / "fixtures" / "scenarios"


def test_a_loaded_scenario_with_templates_captures_and_feeders_round_trips() -> None:
    scenario = load_scenario(FIXTURES / "crud_70_30.yaml")
    copy = pickle.loads(pickle.dumps(scenario))
    assert copy == scenario


def test_a_template_keeps_its_parts_and_its_references_hash_alike() -> None:
    ref = VarRef(VarSource.FEEDER, "names", "name")
    template = Template(("/users/", ref, "?x=1"), None)
    copy = pickle.loads(pickle.dumps(template))
    assert copy == template
    assert copy.refs == (ref,)
    assert {ref: "found"}[copy.refs[0]] == "found"


def test_a_jsonpath_still_finds_after_the_round_trip() -> None:
    path = parse_jsonpath("$.items[*].id")
    copy = pickle.loads(pickle.dumps(path))
    assert copy == path
    assert copy.find({"items": [{"id": 1}, {"id": 2}]}) == [1, 2]
