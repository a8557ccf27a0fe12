"""An unexpected exception in a command: one line, a bug-report hint naming the file that has
the traceback, exit 3; never a traceback on the terminal, never 0 or 1."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import click
import pytest

from loadlens.cli import main as cli_main
from loadlens.errors import UsageError

_RAISED: list[BaseException] = []


@click.command()
def boom() -> None:
    """Fail the way the test asks."""
    raise _RAISED[0]


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: BaseException) -> int:
    """`loadlens boom` raising `error`; its exit code (crash files land in `tmp_path`)."""
    _RAISED[:] = [error]
    monkeypatch.setitem(cli_main._COMMANDS, "boom", (__name__, "boom", "Fail."))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["loadlens", "boom"])
    with pytest.raises(SystemExit) as exited:
        cli_main.main()
    code = exited.value.code
    assert isinstance(code, int)
    return code


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (RuntimeError("kaput\nsecond line"), "RuntimeError: kaput"),
        (EOFError(), "EOFError"),  # click alone would say "Aborted!" and exit 1
        (OSError(errno.ENOENT, "gone"), "FileNotFoundError: [Errno 2] gone"),
    ],
)
def test_an_unexpected_exception_is_one_line_a_hint_and_exit_3(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    shown: str,
) -> None:
    code = _run(monkeypatch, tmp_path, error)
    out, err = capsys.readouterr()
    assert code == 3
    assert out == ""
    (crash_file,) = tmp_path.glob("loadlens-crash-*.txt")
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"error: loadlens failed unexpectedly: {shown}")
    assert lines[1] == (
        f"hint: this is a bug in loadlens; please report it with the traceback in {crash_file}"
    )
    assert "Traceback" not in err
    written = crash_file.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in written
    assert "raise _RAISED[0]" in written
    assert crash_file.stat().st_mode & 0o077 == 0  # the owner's only


def test_ctrl_c_outside_a_run_exits_130_not_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(monkeypatch, tmp_path, KeyboardInterrupt())
    assert code == 130
    assert "Traceback" not in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_errors_of_loadlens_keep_their_own_message_and_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(monkeypatch, tmp_path, UsageError("--workers must be at least 1"))
    assert code == 2
    assert capsys.readouterr().err == "error: --workers must be at least 1\n"
    assert list(tmp_path.iterdir()) == []
