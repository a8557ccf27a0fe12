"""`cookies`, `compression`, `redirects`, `auth`, a target's base path and `cookie` extractors."""

from __future__ import annotations

import base64

import pytest

from loadlens.errors import SpecError
from loadlens.model.scenario import ExtractorKind, RequestStep
from loadlens.model.template import Filtered
from loadlens.spec import parse_yaml_text

PLAN = "plan: [{stage: s, users: 1, duration: 1s}]\n"


def _scenario(body: str, head: str = "", target: str = "http://h") -> str:
    return f"name: s\ntarget: {target}\n{head}flows:\n  - name: f\n    steps:\n{body}{PLAN}"


def _first_request(text: str) -> RequestStep:
    step = parse_yaml_text(text).flows[0].steps[0]
    assert isinstance(step, RequestStep)
    return step


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(text)
    return [f"{p.line}:{p.key}: {p.message}" for p in caught.value.problems]


def test_defaults_are_on_with_ten_redirects() -> None:
    scenario = parse_yaml_text(_scenario("      - request: {url: /}\n"))
    assert (scenario.cookies, scenario.compression, scenario.redirects) == (True, True, 10)
    assert _first_request(_scenario("      - request: {url: /}\n")).request.redirects is None


def test_switches_and_limits_are_read() -> None:
    text = _scenario(
        "      - request: {url: /, redirects: 0}\n",
        head="cookies: false\ncompression: false\ndefaults: {redirects: 3}\n",
    )
    scenario = parse_yaml_text(text)
    assert (scenario.cookies, scenario.compression, scenario.redirects) == (False, False, 3)
    assert _first_request(text).request.redirects == 0


def test_a_redirect_limit_past_100_or_negative_is_a_located_problem() -> None:
    assert _problems(_scenario("      - request: {url: /, redirects: 101}\n")) == [
        "6:flows[0].steps[0].request.redirects: 101 redirects is past the limit of 100"
    ]
    (problem,) = _problems(
        _scenario("", head="defaults: {redirects: -1}\n").replace(
            "    steps:\n", "    steps:\n      - request: {url: /}\n"
        )
    )
    assert problem.startswith("3:defaults.redirects:")


def test_basic_auth_of_constants_is_encoded_at_load() -> None:
    step = _first_request(_scenario("      - request: {url: /, auth: {basic: [ann, pw1]}}\n"))
    header = dict(step.request.headers)["authorization"]
    assert header.static == "Basic " + base64.b64encode(b"ann:pw1").decode()


def test_basic_auth_with_variables_is_a_filtered_piece_and_bearer_a_prefix() -> None:
    text = _scenario(
        "      - request: {url: /, auth: {bearer: '{{ token }}'}}\n",
        head="vars: {u: a, p: b, token: t}\ndefaults: {auth: {basic: ['{{ u }}', '{{ p }}']}}\n",
    )
    scenario = parse_yaml_text(text)
    default = dict(scenario.headers)["authorization"]
    assert default.parts[0] == "Basic " and isinstance(default.parts[1], Filtered)
    assert [r.name for r in default.refs] == ["u", "p"]
    bearer = dict(_first_request(text).request.headers)["authorization"]
    assert bearer.parts[0] == "Bearer " and [r.name for r in bearer.refs] == ["token"]


def test_auth_problems_are_located() -> None:
    both = "      - request: {url: /, auth: {bearer: x}, headers: {authorization: y}}\n"
    assert _problems(_scenario(both)) == [
        "6:flows[0].steps[0].request.auth: `auth` and an `authorization` header are both given"
    ]
    (one,) = _problems(_scenario("      - request: {url: /, auth: {basic: [only]}}\n"))
    assert "expected two values: [user, password]" in one
    (kind,) = _problems(_scenario("      - request: {url: /, auth: {digest: x}}\n"))
    assert "digest" in kind


def test_a_target_may_carry_a_base_path_but_no_query() -> None:
    scenario = parse_yaml_text(_scenario("      - request: {url: /}\n", target="http://h/v1"))
    assert scenario.target == "http://h/v1"
    (problem,) = _problems(_scenario("      - request: {url: /}\n", target="http://h/v1?x=1"))
    assert "no query or fragment" in problem


def test_cookie_captures_and_checks() -> None:
    step = _first_request(
        _scenario(
            "      - request: {url: /login}\n"
            "        capture: {sid: {cookie: session}}\n"
            "        expect: {checks: [{cookie: session, exists: true}]}\n"
        )
    )
    assert step.captures[0].extractor.kind is ExtractorKind.COOKIE
    assert step.captures[0].extractor.expression == "session"
    check_extractor = step.expect.checks[0].extractor
    assert check_extractor is not None and check_extractor.kind is ExtractorKind.COOKIE


def test_an_unknown_filter_is_a_located_problem() -> None:
    (problem,) = _problems(_scenario("      - request: {url: '/{{ uuid | md5 }}'}\n"))
    assert problem.startswith("6:flows[0].steps[0].request.url: unknown filter `md5`")


def test_a_header_that_cannot_be_written_is_a_located_problem() -> None:
    bad = (
        '      - request: {url: /, headers: {"a b": x, x-crlf: "1\\r\\nx-injected: 1",'
        ' x-wide: "\\u0141", x-latin: "caf\\u00e9", x-ok: "{{ uuid }}!"}}\n'
    )
    assert _problems(_scenario(bad)) == [
        "6:flows[0].steps[0].request.headers.a b: `a b` is not a header name",
        "6:flows[0].steps[0].request.headers.x-crlf: a header value cannot hold CR, LF or NUL",
        "6:flows[0].steps[0].request.headers.x-wide: a header value cannot hold characters "
        "beyond Latin-1",
    ]
    defaults = 'defaults: {headers: {"x\\ty": "1"}}\n'
    (problem,) = _problems(_scenario("      - request: {url: /}\n", head=defaults))
    assert problem == "3:defaults.headers.x\ty: `x\ty` is not a header name"


def test_a_flow_weight_must_be_a_finite_number() -> None:
    text = (
        "name: s\ntarget: http://h\nflows:\n"
        "  - {name: a, weight: .nan, steps: [{request: {url: /}}]}\n"
        "  - {name: b, weight: .inf, steps: [{request: {url: /}}]}\n" + PLAN
    )
    assert _problems(text) == [
        "4:flows[0].weight: expected a finite number, got nan",
        "5:flows[1].weight: expected a finite number, got inf",
    ]


def test_http2_is_off_by_default_and_max_streams_is_read_beside_it() -> None:
    scenario = parse_yaml_text(_scenario("      - request: {url: /}\n"))
    assert (scenario.http2, scenario.max_streams) == (False, 100)
    text = _scenario("      - request: {url: /}\n", head="http2: true\nmax_streams: 8\n")
    scenario = parse_yaml_text(text)
    assert (scenario.http2, scenario.max_streams) == (True, 8)


def test_bad_http2_and_max_streams_are_located_problems() -> None:
    step = "      - request: {url: /}\n"
    assert _problems(_scenario(step, head="http2: 1\n")) == [
        "3:http2: expected true or false, got a number"
    ]
    assert _problems(_scenario(step, head="max_streams: 8\n")) == [
        "3:max_streams: `max_streams` applies to HTTP/2: add `http2: true`"
    ]
    assert _problems(_scenario(step, head="http2: true\nmax_streams: 0\n")) == [
        "4:max_streams: must be at least 1, got 0"
    ]
