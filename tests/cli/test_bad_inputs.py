"""Bad URLs, options, headers and absurd loads: the same clear error from `validate` and `run`,
exit 2, never a traceback, and nothing sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadlens.cli.main import cli

SCENARIO = """\
name: s
target: {target}
flows:
  - name: f
    steps:
      - request: {{name: r, url: "{url}", headers: {headers}}}
plan:
  - {{stage: a, {load}, duration: 1s}}
"""


def _write(tmp_path: Path, **fields: str) -> Path:
    values = {
        "target": "http://127.0.0.1:8000",
        "url": "/x",
        "headers": "{}",
        "load": "users: 1",
        **fields,
    }
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(**values))
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def _both(path: Path, *options: str, out: Path) -> Iterator[tuple[int, str]]:
    """What `validate`, then `run`, say; `run` gets a writable --out unless options have one.

    A generator: `run` is invoked only once the test has checked what `validate` said (on a
    build where validate let the input through, run would start loading).
    """
    run_out = () if "--out" in options else ("--out", str(out))
    yield _invoke("validate", str(path), *options)
    yield _invoke("run", str(path), "--quiet", *run_out, *options)


CASES = {
    "port out of range": (
        {"target": "http://127.0.0.1:99999"},
        (),
        "2:9: target: bad target URL `http://127.0.0.1:99999`: the port is out of range 1-65535",
    ),
    "unclosed IPv6 --target": (
        {},
        ("--target", "http://[::1"),
        "--target: bad target URL `http://[::1`: an IPv6 host is written in closed brackets",
    ),
    "credentials in the target": (
        {"target": "http://user:pass@127.0.0.1:8000"},
        (),
        "bad target URL `http://user:***@127.0.0.1:8000`: credentials in a URL are not sent: "
        "put them in a header",
    ),
    "credentials in a request URL": (
        {"url": "http://user:pass@127.0.0.1:8000/x"},
        (),
        "flows[0].steps[0].request.url: bad URL `http://user:***@127.0.0.1:8000/x`",
    ),
    "content-length set by the user": (
        {"headers": "{Content-Length: '5'}"},
        (),
        "flows[0].steps[0].request.headers.Content-Length: the `content-length` header cannot "
        "be set: it frames the message",
    ),
    "transfer-encoding set by the user": (
        {"headers": "{transfer-encoding: chunked}"},
        (),
        "the `transfer-encoding` header cannot be set",
    ),
    "connection: upgrade": (
        {"headers": "{connection: upgrade}"},
        (),
        "`connection: upgrade` cannot be set",
    ),
    "an absurd rate": (
        {"load": "rate: 1000000000000/s"},
        ("--workers", "2"),
        "8:0: plan[0].rate: 1,000,000,000,000/s is beyond what 2 workers can start",
    ),
    "an absurd number of users": (
        {"load": "users: 100000000"},
        ("--workers", "2"),
        "8:0: plan[0].users: 100,000,000 users need 50,000,000 connections per worker",
    ),
    "an unwritable --out": ({}, ("--out", "/proc/nope"), "--out /proc/nope: cannot create"),
    "--workers 0": ({}, ("--workers", "0"), "--workers must be at least 1, not 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_and_run_refuse_with_the_same_clear_error(tmp_path: Path, case: str) -> None:
    fields, options, message = CASES[case]
    path = _write(tmp_path, **fields)
    for code, output in _both(path, *options, out=tmp_path / "runs"):
        assert code == 2, output
        assert message in output
    assert not (tmp_path / "runs").exists()  # run stopped before making its directory


def test_connection_keep_alive_and_host_are_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, headers="{connection: keep-alive, host: example.org}")
    assert _invoke("validate", str(path)) == (0, "ok: s — 1 flow, 1 stage, 1 operation\n")


def test_a_password_never_reaches_the_output(tmp_path: Path) -> None:
    path = _write(tmp_path, target="http://user:s3cr3t@127.0.0.1:8000")
    for _, output in _both(path, out=tmp_path / "runs"):
        assert "s3cr3t" not in output


def test_observer_and_invariant_urls_are_checked_like_the_target(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text(
        path.read_text()
        + "observe:\n  sources:\n    - json: 'http://127.0.0.1:99999/m'\n"
        + "invariants:\n"
        + "  - {name: h, http: 'http://u:s3cr3t@[::1/x', path: $.a, expect: '== 1'}\n"
    )
    code, output = _invoke("validate", str(path))
    assert code == 2
    assert output.splitlines() == [
        f"{path}:11:13: observe.sources[0].json: bad URL `http://127.0.0.1:99999/m`: "
        "the port is out of range 1-65535",
        f"{path}:13:21: invariants[0].http: bad URL `http://u:***@[::1/x`: an IPv6 host is "
        "written in closed brackets, e.g. `http://[::1]:8000`",
    ]
