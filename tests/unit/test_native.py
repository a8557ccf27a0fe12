"""The compiled hot path is used only when it is complete and newer than its sources.

Each case imports a copy of the package in a fresh interpreter, with stand-in "extensions":
empty files that would fail to load, so an import that succeeds proves the source was routed.
"""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import loadlens
from loadlens import native

PACKAGE = Path(loadlens.__file__).resolve().parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _in_copy(root: Path, code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root), "LOADLENS_PURE": "", **env},
        cwd=root,
    )
    return done.stdout.strip()


def _state(root: Path, **env: str) -> str:
    return _in_copy(root, "from loadlens import native; print(native.build_state())", **env)


def _imports_connection_from(root: Path, **env: str) -> str:
    return _in_copy(
        root, "import loadlens.http.connection as c; print(c.__file__.rsplit('/', 1)[1])", **env
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(
        PACKAGE, tmp_path / "loadlens", ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    return tmp_path


def _fake_build(root: Path) -> list[Path]:
    made = [root / (native.SHARED_LIBRARY + SUFFIX)]
    for module in native.MODULES:
        made.append(root.joinpath(*module.split(".")).with_name(module.rsplit(".", 1)[1] + SUFFIX))
    later = time.time() + 10
    for path in made:
        path.write_bytes(b"")
        os.utime(path, (later, later))
    return made


def test_no_build_is_pure_python(copy: Path) -> None:
    assert _state(copy) == "not built"
    assert _imports_connection_from(copy) == "connection.py"


def test_a_complete_newer_build_is_the_one_imported(copy: Path) -> None:
    _fake_build(copy)
    assert _state(copy) == "compiled"
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _imports_connection_from(copy)
    assert "ImportError" in failed.value.stderr  # the stand-in was loaded, so it was chosen


def test_a_source_newer_than_the_build_routes_every_module_to_its_source(copy: Path) -> None:
    _fake_build(copy)
    edited = copy / "loadlens" / "engine" / "drivers.py"
    later = time.time() + 20
    os.utime(edited, (later, later))
    assert _state(copy) == "stale"
    assert _imports_connection_from(copy) == "connection.py"  # not only drivers: all of them


def test_a_missing_piece_of_the_build_routes_to_the_sources(copy: Path) -> None:
    _fake_build(copy)[0].unlink()  # the shared library
    assert _state(copy) == "incomplete"
    assert _imports_connection_from(copy) == "connection.py"


def test_loadlens_pure_routes_a_current_build_to_the_sources(copy: Path) -> None:
    _fake_build(copy)
    assert _state(copy, LOADLENS_PURE="1") == "disabled"
    assert _imports_connection_from(copy, LOADLENS_PURE="1") == "connection.py"


def test_this_process_runs_compiled_exactly_when_the_build_is_current() -> None:
    import loadlens.http.connection  # noqa: F401  (what running_compiled looks at)

    assert native.running_compiled() == (native.build_state() == "compiled")
