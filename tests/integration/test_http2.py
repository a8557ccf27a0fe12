"""HTTP/2 end to end: h2c and TLS (ALPN h2), 100 streams on one connection, errors classified.

Each test runs a scenario's first flow a fixed number of iterations for N virtual users at once
through the engine's own runner and one client, against `tests.support.h2server` on 127.0.0.1,
and compares what the recorder counted with what the server counted.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.runner import StepRunner
from loadlens.engine.variables import SharedData, UserState
from loadlens.errors import SpecError
from loadlens.http import ClientOptions, HttpClient, Origin, encode_request
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.recorder import Recorder
from loadlens.spec import parse_yaml_text
from tests.support.h2server import H2Server
from tests.support.runs import run_scenario, write


def _run(scenario: str, url: str, *, users: int = 1, iterations: int = 1) -> Frame:
    """Run the scenario's first flow `iterations` times for each of `users` users at once, on
    one client made from the scenario's options (TLS not verified: the certificate is the
    test's own); the recorded frame."""
    compiled = compile_scenario(parse_yaml_text(scenario.replace("TARGET", url)))
    spec = compiled.scenario
    options = ClientOptions(verify_tls=False, http2=spec.http2, max_streams=spec.max_streams)

    async def go() -> Frame:
        client = HttpClient(options)
        recorder = Recorder(compiled.operations)
        runner = StepRunner(client, recorder)
        shared = SharedData(rng=random.Random(0))

        async def user(number: int) -> None:
            state = UserState(user_id=number, shared=shared, variables={})
            for _ in range(iterations):
                await runner.run(compiled.flows[0], state)

        await asyncio.gather(*(user(n) for n in range(users)))
        await client.close()
        return recorder.take_frame(0, 0, 0, Health(), final=True)

    return asyncio.run(go())


def _outcomes(frame: Frame) -> dict[str, dict[str, int]]:
    return {name: op.outcomes for name, op in frame.ops.items()}


CHAIN = """\
name: h2
target: TARGET
http2: true
MAX_STREAMS
flows:
  - name: f
    steps:
      - request: {name: item, url: /item/41}
        capture: {id: $.id}
      - request: {name: again, url: "/item/{{ id }}"}
        expect:
          status: 200
          checks: [{name: same id, jsonpath: $.id, equals: 41}]
      - request: {name: missing, url: /status/404}
        expect: {status: 404}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_100_users_share_one_connection_and_every_count_equals_the_servers(tls: bool) -> None:
    # The server holds each response 0.2 s: the 100 users' first requests are all open at once.
    with H2Server(tls=tls, delay=0.2) as server:
        frame = _run(CHAIN.replace("MAX_STREAMS", ""), server.url, users=100, iterations=2)
    assert _outcomes(frame) == {
        "item": {"ok:200": 200},
        "again": {"ok:200": 200},
        "missing": {"ok:404": 200},
    }
    assert server.requests == {"/item/41": 400, "/status/404": 200}
    assert server.connections == 1
    assert server.most_streams == 100


def test_max_streams_bounds_the_streams_of_a_connection_and_more_connections_open() -> None:
    with H2Server(delay=0.2) as server:
        frame = _run(CHAIN.replace("MAX_STREAMS", "max_streams: 10"), server.url, users=30)
    assert _outcomes(frame)["item"] == {"ok:200": 30}
    assert sum(server.requests.values()) == 90
    assert server.most_streams == 10
    assert server.connections == 3


def test_the_servers_own_stream_limit_is_kept_and_more_connections_carry_the_rest() -> None:
    with H2Server(delay=0.2, max_streams=5) as server:
        frame = _run(CHAIN.replace("MAX_STREAMS", ""), server.url, users=20)
    assert _outcomes(frame)["again"] == {"ok:200": 20}
    assert server.most_streams == 5
    assert server.connections == 4


SESSION = """\
name: h2-http
target: TARGET
http2: true
flows:
  - name: f
    steps:
      - request: {name: login, method: POST, url: /login, json: {user: alice}}
      - request: {name: me, url: /me}
        expect:
          checks: [{name: alice, jsonpath: $.user, equals: alice}]
      - request: {name: zipped, url: /gzip}
        expect:
          checks: [{name: decoded, jsonpath: $.zipped, equals: true}]
      - request: {name: moved, url: /redirect}
        capture: {id: $.id}
      - request: {name: upload, method: POST, url: /echo, body: "{{ id }}-0123456789"}
        expect:
          checks:
            - {name: hash, jsonpath: $.sha256, equals: "SHA"}
      - request: {name: big, url: /big}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_cookies_compression_redirects_bodies_and_flow_control_work_over_http2() -> None:
    import hashlib

    sha = hashlib.sha256(b"7-0123456789").hexdigest()
    with H2Server(tls=True, big=3 << 20) as server:
        frame = _run(SESSION.replace("SHA", sha), server.url, iterations=3)
    assert _outcomes(frame) == {
        "login": {"ok:200": 3},
        "me": {"ok:200": 3},
        "zipped": {"ok:200": 3},
        "moved": {"ok:200": 3},
        "upload": {"ok:200": 3},
        "big": {"ok:200": 3},
    }
    assert server.requests["/redirect"] == 3
    assert server.requests["/item/7"] == 3
    assert server.bodies == [len(b"7-0123456789")] * 3
    # The 3 MiB bodies went past both flow-control windows and were counted whole.
    assert frame.ops["big"].bytes_received >= 3 * (3 << 20)


ERRORS = """\
name: h2-errors
target: TARGET
http2: true
flows:
  - name: f
    steps:
      - request: {name: reset, url: /reset}
      - request: {name: goaway, url: /goaway}
      - request: {name: after, url: /item/1}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_rst_stream_and_goaway_are_classified_errors_and_the_next_request_goes_on() -> None:
    with H2Server() as server:
        frame = _run(ERRORS, server.url, iterations=2)
    assert _outcomes(frame) == {
        "reset": {"error:reset": 2},
        "goaway": {"error:closed": 2},
        "after": {"ok:200": 2},
    }
    # GOAWAY retired a connection each time: the next request opened another.
    assert server.connections == 3


def test_a_tls_server_that_does_not_choose_h2_fails_as_protocol_not_silently_http1() -> None:
    with H2Server(tls=True, alpn=("http/1.1",)) as server:
        frame = _run(CHAIN.replace("MAX_STREAMS", ""), server.url)
    assert _outcomes(frame)["item"] == {"error:protocol": 1}
    assert sum(server.requests.values()) == 0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("http2: yes please", "http2: expected true or false"),
        ("http2: true\nmax_streams: 0", "max_streams: must be at least 1, got 0"),
        ("http2: true\nmax_streams: 20000", "20000 streams is past the limit of 10000"),
        ("max_streams: 10", "`max_streams` applies to HTTP/2: add `http2: true`"),
    ],
)
def test_bad_http2_keys_name_the_line_and_key(extra: str, expected: str) -> None:
    text = CHAIN.replace("http2: true\n", "").replace("MAX_STREAMS", extra)
    with pytest.raises(SpecError) as raised:
        parse_yaml_text(text.replace("TARGET", "http://127.0.0.1:1"))
    message = raised.value.render()
    assert expected in message
    assert ":3:" in message or ":4:" in message  # the line of the key


RUN = """\
name: h2-run
target: http://127.0.0.1:1
http2: true
flows:
  - name: f
    steps:
      - request: {name: item, url: /item/5}
        capture: {id: $.id}
        expect:
          checks: [{name: five, jsonpath: $.id, equals: 5}]
plan:
  - {stage: each, users: 100, per_user: 3}
"""


def test_loadlens_run_over_tls_http2_counts_what_the_server_counted(tmp_path: Path) -> None:
    # The whole command: the scenario's `http2` reaches the worker's client; `--insecure`
    # accepts the test's self-signed certificate.
    scenario = write(tmp_path / "h2.yaml", RUN)
    with H2Server(tls=True, delay=0.2) as server:
        run = run_scenario(scenario, server.url, tmp_path / "runs", "--workers", "1", "--insecure")
    assert "Traceback" not in run.stderr, run.stderr
    result = run.result()
    assert result.operations["item"].outcomes == {"ok:200": 300}
    assert server.requests == {"/item/5": 300}
    assert server.connections == 1
    assert server.most_streams == 100


def test_a_connection_counts_as_idle_while_it_has_a_stream_free() -> None:
    # The open model's dispatch asks how many connections could take a request now.
    with H2Server(delay=0.5) as server:
        origin = Origin.parse(server.url)
        request = encode_request(b"GET", b"/item/1", origin.host_header, [], None)

        async def go() -> list[tuple[int, int]]:
            client = HttpClient(ClientOptions(http2=True, max_streams=3))
            await client.request(origin, request)  # opened, SETTINGS known
            counts = [client.connection_counts(origin)]
            flying = [asyncio.ensure_future(client.request(origin, request)) for _ in range(3)]
            await asyncio.sleep(0.1)
            counts.append(client.connection_counts(origin))
            responses = await asyncio.gather(*flying)
            counts.append(client.connection_counts(origin))
            assert [r.status for r in responses] == [200, 200, 200]
            await client.close()
            return counts

        counts = asyncio.run(go())
    assert counts == [(1, 1), (1, 0), (1, 1)]


UPLOAD = """\
name: h2-upload
target: TARGET
http2: true
flows:
  - name: f
    steps:
      - request:
          name: upload
          method: POST
          url: /echo
          multipart:
            title: report
            document: {file: FILE, content_type: application/octet-stream}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_a_multipart_upload_streams_past_the_servers_flow_control_window(tmp_path: Path) -> None:
    # 1.5 MiB against the server's 64 KiB initial window: the body waits for WINDOW_UPDATEs.
    content = random.Random(7).randbytes(3 << 19)
    path = tmp_path / "document.bin"
    path.write_bytes(content)
    with H2Server() as server:
        frame = _run(UPLOAD.replace("FILE", str(path)), server.url, iterations=2)
    assert _outcomes(frame) == {"upload": {"ok:200": 2}}
    assert len(server.bodies) == 2
    assert content in server.last_body
    assert b'name="title"' in server.last_body
    assert frame.ops["upload"].bytes_sent >= 2 * len(content)
