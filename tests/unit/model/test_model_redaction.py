"""Secrets masked in every form a request gives them; which variables hold secrets."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus, urlencode

from hypothesis import given
from hypothesis import strategies as st

from loadlens.model.redaction import MASK, SECRET_SHAPE, Redactor, secret_variables
from loadlens.spec import parse_yaml_text

SECRET = "QUJD+REVG/R0g=x"


def test_every_encoding_of_a_secret_is_masked() -> None:
    redactor = Redactor.of([SECRET])
    encoded = {
        "raw": SECRET,
        "path": quote(SECRET, safe="/:@!$&'()*+,;=-._~?"),
        "query": urlencode({"sig": SECRET}).split("=", 1)[1],
        "quoted": quote(SECRET, safe=""),
        "plus": quote_plus(SECRET),
        "json": json.dumps(SECRET)[1:-1],
        "json-slash": SECRET.replace("/", "\\/"),
    }
    for where, form in encoded.items():
        assert SECRET not in redactor.text(f"a {form} b"), where
        assert redactor.text(f"a {form} b") == f"a {MASK} b", where


@given(prefix=st.text(alphabet="abcdefghijk:", max_size=7), suffix=st.binary(max_size=5))
def test_a_secret_inside_base64_is_masked_at_any_alignment(prefix: str, suffix: bytes) -> None:
    redactor = Redactor.of(["hunter2-s3cret"])
    credential = prefix.encode() + b"hunter2-s3cret" + suffix
    for text in (base64.b64encode(credential), base64.urlsafe_b64encode(credential)):
        masked = redactor.text(text.decode())
        assert MASK in masked
        assert masked != text.decode()


def test_short_values_are_never_secrets_and_adding_keeps_the_variables() -> None:
    redactor = Redactor.of(["ab", "xyz"], ["token"])
    assert redactor.text("ab xyz") == f"ab {MASK}"
    more = redactor.adding(["tok-123", "ab"])
    assert more.variables == frozenset({"token"})
    assert more.text("xyz tok-123") == f"{MASK} {MASK}"
    assert redactor.adding(["xyz", "q"]) is redactor  # nothing new


def test_for_shape_replaces_secrets_with_the_secret_mask() -> None:
    redactor = Redactor.of(["abcdefghij"])
    assert redactor.for_shape("user-abcdefghij") == f"user-{SECRET_SHAPE}"
    assert redactor.for_shape("nothing here") == "nothing here"


def test_secret_variables_are_those_marked_or_sent_in_sensitive_headers() -> None:
    text = """\
name: s
target: http://h
defaults:
  headers: {cookie: "sid={{ sid }}", x-trace: "{{ trace }}"}
vars: {trace: t, sid: s}
setup:
  - request: {name: login, method: POST, url: /login}
    capture: {pool.keys: {jsonpath: $.key, secret: true}, id: $.id}
flows:
  - name: f
    steps:
      - group: g
        steps:
          - request: {name: token, method: POST, url: /token}
            capture: {tok: $.token}
          - request: {name: me, url: "/me/{{ id }}", headers: {authorization: "Bearer {{ tok }}"}}
plan: [{stage: a, users: 1, duration: 1s}]
"""
    scenario = parse_yaml_text(text)
    assert secret_variables(scenario) == frozenset({"sid", "pool.keys", "tok"})
