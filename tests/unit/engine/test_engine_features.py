"""Value shapes, error templates and per-request feature tuples."""

from __future__ import annotations

import re
import uuid

from hypothesis import given
from hypothesis import strategies as st

from loadlens.engine.features import (
    VALUES_PER_VARIABLE,
    InFlight,
    error_template,
    plan_features,
    release,
    shape,
)
from loadlens.model.redaction import Redactor
from loadlens.model.scenario import Body, BodyKind
from loadlens.model.template import Template, VarRef, VarSource


def test_shapes_of_typical_ids() -> None:
    assert shape("doc_1a2b3c4d") == "doc_<hex>"
    assert shape("doc_abcdefab") == "doc_<hex>"
    assert shape("user-42") == "user-<int>"
    assert shape("user42") == "user<int>"
    assert shape(str(uuid.uuid4())) == "<uuid>"
    assert shape("42") == "<int>"
    assert shape("abc=") == "abc="
    assert shape("x" * 65) == "<long:64+>"
    assert shape("x" * 5000) == "<long:4096+>"  # long values differ by their length's octave
    assert shape("order-" + str(uuid.uuid4())) == "order-<uuid>"


@given(st.text(max_size=80))
def test_a_shape_never_holds_a_digit_and_is_stable(value: str) -> None:
    first = shape(value)
    if len(value) > 64:
        assert re.fullmatch(r"<long:\d+\+>", first)
        return
    assert not any(c.isdigit() for c in first)
    assert re.search(r"\d", first) is None
    assert shape(value) == first


def test_error_templates_mask_numbers_ids_and_secrets() -> None:
    redactor = Redactor.of(["hunter2"])
    text = (
        '{"error": "user-42 not found", "id": "doc_1a2b3c4d", "trace": '
        f'"{uuid.UUID(int=7)}", "token": "hunter2", "took": 1.5}}'
    )
    assert error_template(text, redactor) == (
        '{"error": "user-<n> not found", "id": "doc_<hex>", "trace": "<uuid>", '
        '"token": "***", "took": <n>}'
    )
    assert error_template("UNIQUE constraint failed: t.token", redactor) == (
        "UNIQUE constraint failed: t.token"
    )
    assert len(error_template("x" * 1000, redactor)) == 300


def _template(*parts: str | VarRef) -> Template:
    return Template(parts=parts, static=None)


def test_feature_tuples_for_a_templated_request() -> None:
    user_id = VarRef(VarSource.USER, "id")
    pooled = VarRef(VarSource.POOL, "user_ids")
    token = VarRef(VarSource.USER, "token")
    plan = plan_features(
        _template("/users/", user_id, "?x=1"),
        (("page", _template(pooled)),),
        [(b"authorization", _template("Bearer ", token))],
        None,
        Redactor(),
    )
    inflight: dict[tuple[str, str], InFlight] = {}
    used: dict[VarRef, object] = {user_id: "doc_1a2b3c4d", pooled: "user-7", token: "abc"}
    first, held = plan.features(used, {"id": "create"}, inflight)
    assert first == (
        "p:0=users",
        "q:x",
        "qv:x=1",
        "q:page",
        "v:id=doc_<hex>",
        "val:id=doc_1a2b3c4d",
        "src:id@create",
        "v:pool.user_ids=user-<int>",
        "val:pool.user_ids=user-7",
        "src:pool.user_ids@pool",
        "src:token@vars",
    )
    assert "v:token=abc" not in first  # sent only in a sensitive header
    second, held2 = plan.features(used, {"id": "create"}, inflight)
    assert "overlap:id" in second and "overlap:pool.user_ids" in second
    assert "overlap:id" not in first
    assert plan.sample_variables(used)["token"] == "***"
    # the first request learns when it ends that the second overlapped it; the second knew
    assert release(inflight, held, ()) == ("overlap:id", "overlap:pool.user_ids")
    assert release(inflight, held2, ()) == ()
    assert inflight == {}
    again, held3 = plan.features(used, {"id": "create"}, inflight)
    assert again is first  # the tuple is interned
    assert release(inflight, held3, ()) == ()  # alone in flight from start to end


def test_literal_values_flow_and_writes_to_a_literal_url() -> None:
    body = Body(
        kind=BodyKind.JSON,
        json={
            "sort": Template.literal("price"),
            "n": 3,
            "name": _template(VarRef(VarSource.BUILTIN, "timestamp")),
        },
    )
    plan = plan_features(
        Template.literal("/docs/1?view=full"), (), [], body, Redactor(), b"PUT", "editors"
    )
    inflight: dict[tuple[str, str], InFlight] = {}
    stamp = VarRef(VarSource.BUILTIN, "timestamp")
    first, held = plan.features({stamp: 1700000000000}, {}, inflight)
    assert first == (
        "p:0=docs",
        "p:1=1",
        "q:view",
        "qv:view=full",
        "b:sort",
        "bv:sort=price",
        "b:n",
        "bv:n=3",
        "b:name",
        "flow:editors",
        "v:timestamp=<int>",
        "src:timestamp@builtin",
    )  # no `val:` for a timestamp: its values are serial, never a category
    second, held2 = plan.features({stamp: 1700000000000}, {}, inflight)
    # the same millisecond is the same entity; and a write to a literal URL is one too
    assert "overlap:timestamp" in second and "overlap:/docs/1" in second
    release(inflight, held, ())
    release(inflight, held2, ())
    assert inflight == {}


def test_values_are_features_for_the_first_few_distinct_ones_only() -> None:
    item = VarRef(VarSource.FEEDER, "items", "id")
    plan = plan_features(_template("/items/", item), (), [], None, Redactor())
    seen = set()
    for n in range(VALUES_PER_VARIABLE + 5):
        features, _ = plan.features({item: str(n)}, {}, {})
        seen.update(f for f in features if f.startswith("val:"))
    assert len(seen) == VALUES_PER_VARIABLE
    features, _ = plan.features({item: "x" * 100}, {}, {})
    assert not [f for f in features if f.startswith("val:")]  # long: only its shape
