"""`loadlens run --cluster`: what it says when it cannot be used (nothing is sent, exit 2)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.runs import loadlens, write

SCENARIO = """\
name: once
target: http://127.0.0.1:9
steps:
  - request: {name: ping, method: GET, url: /}
plan:
  - {stage: once, users: 1, iterations: 1}
"""
_JOIN_HINT = (
    "hint: start one with `ray start --head`, or give its address (HOST:PORT, ray://HOST:PORT)\n"
)


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    scenario = write(tmp_path / "once.yaml", SCENARIO)
    out = tmp_path / "runs"
    done = loadlens(
        "run", str(scenario), "--no-preflight", "--out", str(out), *args, out=out, env=env
    )
    assert not out.exists() or not any(out.iterdir())  # no run was started
    return done.code, done.stderr


def test_without_ray_installed_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "ray"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("no ray here")\n', encoding="utf-8")
    code, stderr = _run(tmp_path, "--cluster", "auto", env={"PYTHONPATH": str(shim.parent)})
    assert (code, stderr) == (
        2,
        "error: --cluster needs Ray, which is not installed\nhint: pip install 'loadlens[ray]'\n",
    )


def test_a_cluster_address_nobody_listens_on_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port just freed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, stderr = _run(tmp_path, "--cluster", f"127.0.0.1:{port}")
    assert (code, stderr) == (
        2,
        f"error: cannot join the Ray cluster at '127.0.0.1:{port}': Connection refused\n"
        + _JOIN_HINT,
    )


@pytest.mark.parametrize("address", ["nonsense", "http://127.0.0.1:6379", "127.0.0.1:99999"])
def test_a_cluster_address_of_another_form_is_refused(tmp_path: Path, address: str) -> None:
    code, stderr = _run(tmp_path, "--cluster", address)
    assert code == 2
    assert stderr.startswith(
        f"error: --cluster {address!r} is not auto, HOST:PORT or ray://HOST:PORT\n"
    )


def test_per_node_needs_cluster(tmp_path: Path) -> None:
    code, stderr = _run(tmp_path, "--per-node", "2")
    assert (code, stderr) == (
        2,
        "error: --per-node must be at least 1 and needs --cluster, not 2\n",
    )


def test_listen_needs_cluster_and_host_port(tmp_path: Path) -> None:
    assert _run(tmp_path, "--listen", "127.0.0.1:7070") == (2, "error: --listen needs --cluster\n")
    code, stderr = _run(tmp_path, "--cluster", "auto", "--listen", "7070")
    assert (code, stderr.splitlines()[0]) == (2, "error: --listen '7070' is not HOST:PORT")
