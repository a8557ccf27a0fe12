"""Secrets are masked before a feature or a sample is derived from a value."""

from __future__ import annotations

from loadlens.engine.features import InFlight, plan_features, redacted_shape
from loadlens.model.redaction import MASK, Redactor
from loadlens.model.template import Template, VarRef, VarSource


def test_a_secret_shape_keeps_no_letter_of_it() -> None:
    redactor = Redactor.of(["abcdefghij", "s3cr3t-XYZ-123"])
    assert redacted_shape("abcdefghij", False, redactor) == "<secret>"
    assert redacted_shape("s3cr3t-XYZ-123", False, redactor) == "<secret>"
    assert redacted_shape("user-abcdefghij", False, redactor) == "user-<secret>"
    assert redacted_shape("user-42", False, redactor) == "user-<int>"
    assert redacted_shape("anything", True, Redactor()) == "<secret>"


def test_secret_variables_are_shaped_secret_and_shown_masked() -> None:
    token = VarRef(VarSource.USER, "token")
    echo = VarRef(VarSource.USER, "echo")
    plan = plan_features(
        Template(parts=("/me/", token, "?e=", echo), static=None),
        (),
        [],
        None,
        Redactor.of(["abcdefghij"], ["token"]),
    )
    used: dict[VarRef, object] = {token: "tok-Zm9vYmFy", echo: "abcdefghij"}
    features, _ = plan.features(used, {"token": "login", "echo": "login"}, {})
    assert "v:token=<secret>" in features
    assert "v:echo=<secret>" in features
    assert not [f for f in features if "Zm9v" in f or "abcdefghij" in f]
    assert plan.sample_variables(used) == {"token": MASK, "echo": MASK}


def test_in_flight_entities_do_not_need_a_secret_in_their_feature() -> None:
    token = VarRef(VarSource.USER, "token")
    plan = plan_features(
        Template(parts=("/me/", token), static=None), (), [], None, Redactor.of([], ["token"])
    )
    inflight: dict[tuple[str, str], InFlight] = {}
    first, _ = plan.features({token: "t-1"}, {}, inflight)
    second, _ = plan.features({token: "t-1"}, {}, inflight)
    assert "overlap:token" in second and "overlap:token" not in first
