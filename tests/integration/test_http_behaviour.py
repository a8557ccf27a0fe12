"""Cookies, redirects, compression, auth, a base path and template filters, end to end.

Each test runs a scenario's flow a fixed number of times for one virtual user through the
engine's own runner and client, against `tests.support.webserver` on 127.0.0.1, and compares
what the recorder counted with what the server saw.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
from urllib.parse import quote

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.runner import StepRunner
from loadlens.engine.variables import SharedData, UserState
from loadlens.http import HttpClient
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.histogram import decode_histogram
from loadlens.metrics.recorder import Recorder
from loadlens.spec import parse_yaml_text
from tests.support.webserver import BASIC, BEARER, WebServer

ITERATIONS = 5


def _run(scenario: str, url: str, iterations: int = ITERATIONS) -> Frame:
    """Run the scenario's first flow `iterations` times for one user (its `vars:` set as
    they are written); the recorded frame."""
    compiled = compile_scenario(parse_yaml_text(scenario.replace("TARGET", url)))

    async def go() -> Frame:
        client = HttpClient()
        recorder = Recorder(compiled.operations)
        runner = StepRunner(client, recorder)
        variables: dict[str, object] = {n: t.static for n, t in compiled.scenario.variables}
        user = UserState(user_id=1, shared=SharedData(rng=random.Random(0)), variables=variables)
        for _ in range(iterations):
            await runner.run(compiled.flows[0], user)
        await client.close()
        return recorder.take_frame(0, 0, 0, Health(), final=True)

    return asyncio.run(go())


def _outcomes(frame: Frame) -> dict[str, dict[str, int]]:
    return {name: op.outcomes for name, op in frame.ops.items()}


def _features(frame: Frame, op: str) -> dict[str, int]:
    diagnostics = frame.ops[op].diagnostics
    assert diagnostics is not None
    return {name: sum(by.values()) for name, by in diagnostics.features.counts.items()}


LOGIN = """\
name: session
target: TARGET
COOKIES
flows:
  - name: f
    steps:
      - request: {name: login, method: POST, url: /login}
        capture: {session: {cookie: session}}
        expect:
          checks: [{name: has session, cookie: session, exists: true}]
      - request: {name: me, url: /me}
        expect:
          status: 200
          checks: [{name: alice, jsonpath: $.user, equals: alice}]
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_a_cookie_set_at_login_is_sent_back_and_every_check_passes() -> None:
    with WebServer() as url:
        frame = _run(LOGIN.replace("COOKIES", ""), url)
    assert _outcomes(frame) == {"login": {"ok:200": ITERATIONS}, "me": {"ok:200": ITERATIONS}}


def test_a_cookie_set_by_a_response_longer_than_one_read_is_kept() -> None:
    scenario = LOGIN.replace("COOKIES", "").replace("url: /login", "url: /big-login")
    with WebServer() as url:
        frame = _run(scenario, url, iterations=2)
    assert _outcomes(frame) == {"login": {"ok:200": 2}, "me": {"ok:200": 2}}


def test_a_cookie_after_a_long_head_or_split_across_reads_is_kept() -> None:
    for login in ("/long-head-login", "/split-login"):
        scenario = LOGIN.replace("COOKIES", "").replace("url: /login", f"url: {login}")
        with WebServer() as url:
            frame = _run(scenario, url, iterations=2)
        assert _outcomes(frame) == {"login": {"ok:200": 2}, "me": {"ok:200": 2}}, login


LATER = """\
name: later
target: TARGET
flows:
  - name: f
    steps:
      - request: {name: login, method: POST, url: /login-later}
      - request: {name: me, url: /me}
        expect: 200
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_a_step_that_answered_the_same_bytes_without_a_cookie_still_sees_a_later_one() -> None:
    # The runner remembers the last first read of a step that held no `Set-Cookie` and does
    # not search the same bytes again: the third login answers other bytes, with a cookie.
    server = WebServer()
    with server as url:
        frame = _run(LATER, url)
    assert server.plain_logins == 0
    assert _outcomes(frame) == {
        "login": {"ok:200": ITERATIONS},
        "me": {"status:401": 2, "ok:200": ITERATIONS - 2},
    }
    assert len(server.sessions) == ITERATIONS - 2


def test_cookies_false_sends_no_cookie_and_the_request_that_needs_one_fails() -> None:
    server = WebServer()
    with server as url:
        frame = _run(LOGIN.replace("COOKIES", "cookies: false"), url)
    assert _outcomes(frame) == {"login": {"ok:200": ITERATIONS}, "me": {"status:401": ITERATIONS}}
    assert server.cookies == []


REDIRECTS = """\
name: redirects
target: TARGET
defaults: {redirects: 3}
flows:
  - name: f
    steps:
      - request: {name: two, url: /redirect/2}
        expect: {status: 200, checks: [{name: done, jsonpath: $.done, equals: true}]}
      - request: {name: too-many, url: /redirect/5}
      - request: {name: loop, url: /loop, redirects: 10}
      - request: {name: kept, url: /redirect/1, redirects: 0}
        expect: {status: 302}
      - request: {name: away, url: /away}
        expect: {status: 200, checks: [{name: final, jsonpath: $.final, equals: true}]}
      - request: {name: see-other, method: POST, url: /see-other, json: {a: 1}}
        expect: {status: 200, checks: [{name: get, jsonpath: $.method, equals: GET}]}
      - request: {name: temporary, method: POST, url: /temporary, json: {a: 1}}
        expect: {status: 200, checks: [{name: post, jsonpath: $.method, equals: POST}]}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_redirect_chains_are_followed_counted_and_judged_by_their_final_status() -> None:
    other = WebServer()
    with other as other_url:
        server = WebServer(away_to=other_url)
        with server as url:
            frame = _run(REDIRECTS, url)
    n = ITERATIONS
    assert _outcomes(frame) == {
        "two": {"ok:200": n},
        "too-many": {"error:too_many_redirects": n},
        "loop": {"error:redirect_loop": n},
        "kept": {"ok:302": n},
        "away": {"ok:200": n},
        "see-other": {"ok:200": n},
        "temporary": {"ok:200": n},
    }
    # `two` 2 → 1 → 0; `too-many` 5 → 4 → 3 → 2 and stops (3 hops); `kept` stays at 1.
    assert server.counters["GET /redirect/0"] == server.counters["GET /redirect/5"] == n
    assert server.counters["GET /redirect/2"] == server.counters["GET /redirect/1"] == 2 * n
    assert server.counters["GET /loop"] == n
    assert other.counters["GET /final"] == n  # the hop to another origin went there
    assert _features(frame, "two")["redirects:2"] == n
    assert _features(frame, "away")["redirects_other_origin:1"] == n
    assert _features(frame, "see-other")["redirects:1"] == n
    # 303 turns the POST into a GET without body; 307 keeps method and body.
    assert sorted(server.echoed) == sorted([("GET", b"")] * n + [("POST", b'{"a":1}')] * n)


def test_the_latency_of_a_redirected_request_covers_every_hop() -> None:
    scenario = REDIRECTS.replace("/redirect/2", "/slow/3").replace("{redirects: 3}", "{}")
    with WebServer() as url:
        frame = _run(scenario, url, iterations=2)
    histogram = decode_histogram(frame.ops["two"].histogram)
    assert histogram.get_total_count() == 2
    assert histogram.get_min_value() >= 4 * 30_000  # µs: four answers of 30 ms at least


COMPRESSION = """\
name: compression
target: TARGET
defaults: {max_body: 64KiB}
flows:
  - name: f
    steps:
      - request: {name: gzip, url: /gzip}
        capture: {n: $.n}
        expect: {checks: [{name: coded, jsonpath: $.coded, equals: gzip}]}
      - request: {name: deflate, url: /deflate}
        capture: {coded: {regex: '"coded": "(\\w+)"'}}
        expect: {checks: [{name: seven, jsonpath: $.n, equals: 7}]}
      - request: {name: broken, url: /broken-gzip}
        expect: {checks: [{name: body, contains: x}]}
      - request: {name: bomb, url: /bomb}
        expect: {checks: [{name: zeros, contains: "\\0"}]}
      - request: {name: br, url: /br}
        capture: {br_n: $.n}
        expect: {checks: [{name: coded, jsonpath: $.coded, equals: br}]}
      - request: {name: zstd, url: /zstd}
        capture: {zstd_coded: {regex: '"coded": "(\\w+)"'}}
        expect: {checks: [{name: seven, jsonpath: $.n, equals: 7}, {name: text, contains: zstd}]}
      - request: {name: broken-br, url: /broken-br}
        expect: {checks: [{name: body, contains: x}]}
      - request: {name: broken-zstd, url: /broken-zstd}
        capture: {nothing: $.n}
      - request: {name: unread, url: /br}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_compressed_bodies_are_decoded_for_checks_and_captures_and_a_broken_one_is_classified() -> (
    None
):
    server = WebServer()
    with server as url:
        frame = _run(COMPRESSION, url)
    n = ITERATIONS
    assert _outcomes(frame) == {
        "gzip": {"ok:200": n},
        "deflate": {"ok:200": n},
        "broken": {"error:decode": n},
        "bomb": {"ok:200": n},  # decoded up to max_body only
        "br": {"ok:200": n},
        "zstd": {"ok:200": n},
        "broken-br": {"error:decode": n},
        "broken-zstd": {"error:decode": n},
        "unread": {"ok:200": n},  # no check reads it: never decoded
    }
    # Every body came compressed: the checks above read decoded ones.
    assert server.coded == {"gzip": n, "deflate": n, "br": 2 * n, "zstd": n}
    # Bytes decoded: each body read, as decoded (the bomb up to max_body); `unread` none.
    decoded = {name: op.bytes_decoded for name, op in frame.ops.items() if op.bytes_decoded}
    document = {c: len(json.dumps({"coded": c, "n": 7})) for c in ("gzip", "deflate", "br")}
    assert decoded == {
        "gzip": n * document["gzip"],
        "deflate": n * document["deflate"],
        "bomb": n * 64 * 1024,
        "br": n * document["br"],
        "zstd": n * len(json.dumps({"coded": "zstd", "n": 7})),
    }
    assert frame.ops["unread"].bytes_received > 0


AUTH = """\
name: auth
target: TARGET
vars: {token: BEARER}
defaults:
  auth: {basic: [USER, PASS]}
flows:
  - name: f
    steps:
      - request: {name: basic, url: /basic}
        expect: 200
      - request: {name: bearer, url: /bearer, auth: {bearer: "{{ token }}"}}
        expect: 200
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_basic_and_bearer_auth_reach_the_server() -> None:
    scenario = AUTH.replace("USER", BASIC[0]).replace("PASS", BASIC[1]).replace("BEARER", BEARER)
    server = WebServer()
    with server as url:
        frame = _run(scenario, url)
    assert _outcomes(frame) == {"basic": {"ok:200": ITERATIONS}, "bearer": {"ok:200": ITERATIONS}}
    expected = "Basic " + base64.b64encode(":".join(BASIC).encode()).decode()
    assert server.authorizations.count(expected) == ITERATIONS
    assert server.authorizations.count(f"Bearer {BEARER}") == ITERATIONS


BASE_PATH = """\
name: base
target: TARGET/v1
flows:
  - name: f
    steps:
      - request: {name: users, url: /users}
        expect: {checks: [{name: joined, jsonpath: $.path, equals: /v1/users}]}
      - request: {name: absolute, url: TARGET/health}
        expect: {checks: [{name: as is, jsonpath: $.path, equals: /health}]}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_a_target_with_a_base_path_is_joined_with_leading_slash_urls() -> None:
    with WebServer() as url:
        frame = _run(BASE_PATH, url, iterations=2)
    assert _outcomes(frame) == {"users": {"ok:200": 2}, "absolute": {"ok:200": 2}}


FILTERS = """\
name: filters
target: TARGET
vars: {name: "Ann Lee"}
flows:
  - name: f
    steps:
      - request:
          name: filters
          url: "/echo-filters?q={{ name | urlencode }}"
          headers:
            x-b64: "{{ name | base64 }}"
            x-json: "{{ name | json }}"
            x-lower: "{{ name | lower }}"
            x-upper: "{{ name | upper }}"
            x-sha: "{{ name | lower | sha256 }}"
            x-const: "{{ 'user:pw' | base64 }}"
        expect: 200
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_each_template_filter_reaches_the_server_applied() -> None:
    server = WebServer()
    with server as url:
        frame = _run(FILTERS, url, iterations=1)
    assert _outcomes(frame) == {"filters": {"ok:200": 1}}
    compiled = compile_scenario(parse_yaml_text(FILTERS.replace("TARGET", url)))
    const = dict(compiled.scenario.flows[0].steps[0].request.headers)["x-const"]  # type: ignore[union-attr]
    assert const.static == base64.b64encode(b"user:pw").decode()  # evaluated at load
    echo = json.loads(server.last_echo)
    assert echo["query"] == "q=" + quote("Ann Lee", safe="")
    headers = echo["headers"]
    assert headers["x-b64"] == base64.b64encode(b"Ann Lee").decode()
    assert headers["x-json"] == '"Ann Lee"'
    assert (headers["x-lower"], headers["x-upper"]) == ("ann lee", "ANN LEE")
    assert headers["x-sha"] == hashlib.sha256(b"ann lee").hexdigest()


HOSTILE_VALUES = """\
name: hostile-values
target: TARGET
flows:
  - name: f
    steps:
      - request: {name: values, url: /hostile-values}
        capture: {crlf: $.crlf, wide: $.wide, plain: $.plain}
      - request: {name: crlf-header, url: /h1, headers: {x-value: "{{ crlf }}"}}
      - request: {name: wide-header, url: /h2, headers: {x-value: "{{ wide }}"}}
      - request: {name: plain-header, url: /h3, headers: {x-value: "{{ plain }}"}}
      - request: {name: in-url, url: "/p/{{ crlf }}/{{ wide }}"}
      - request: {name: redirect, url: /spaced-redirect}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_values_a_header_cannot_carry_are_not_sent_and_nothing_is_injected() -> None:
    server = WebServer()
    with server as url:
        frame = _run(HOSTILE_VALUES, url)
    outcomes = _outcomes(frame)
    # Never sent, named by the variable; never a header line written from a value.
    assert outcomes["crlf-header"] == {"unsendable:crlf": ITERATIONS}
    assert outcomes["wide-header"] == {"unsendable:wide": ITERATIONS}
    assert server.counters["GET /h1"] == server.counters["GET /h2"] == 0
    assert server.counters["injected"] == 0
    # The same values elsewhere go out encoded, and a plain one goes into a header.
    assert outcomes["plain-header"] == {"ok:200": ITERATIONS}
    assert server.counters["GET /h3"] == ITERATIONS
    assert outcomes["in-url"] == {"ok:200": ITERATIONS}
    assert server.counters["GET /p/a%0D%0AX-Injected:%201/%C5%81ukasz"] == ITERATIONS
    # A `Location` with raw spaces is followed, percent-encoded as a browser would.
    assert outcomes["redirect"] == {"ok:200": ITERATIONS}
    assert server.counters["GET /landing%20page"] == ITERATIONS
