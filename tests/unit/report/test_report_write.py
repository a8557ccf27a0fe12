"""write_reports and `loadlens report`: four files next to the result, clear errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from report_samples import failing_result

from loadlens.cli.report import report
from loadlens.metrics.result import write_result
from loadlens.report.markdown import render_markdown
from loadlens.report.write import write_reports


def test_write_reports_writes_four_files_and_no_temporaries(tmp_path: Path) -> None:
    result = failing_result()
    paths = write_reports(result, tmp_path)
    assert [p.name for p in paths] == ["report.md", "report.html", "junit.xml", "series.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.md",
        "series.csv",
    ]
    assert paths[0].read_text(encoding="utf-8") == render_markdown(result)


def test_report_command_regenerates_from_a_run_directory(tmp_path: Path) -> None:
    write_result(failing_result(), tmp_path / "result.json")
    run = CliRunner().invoke(report, [str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == [
        str(tmp_path / "report.md"),
        str(tmp_path / "report.html"),
        str(tmp_path / "junit.xml"),
        str(tmp_path / "series.csv"),
    ]


def test_report_command_writes_where_told(tmp_path: Path) -> None:
    write_result(failing_result(), tmp_path / "result.json")
    out = tmp_path / "elsewhere" / "reports"
    run = CliRunner().invoke(report, [str(tmp_path / "result.json"), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert (out / "report.html").exists()


def test_a_missing_result_is_one_clear_line(tmp_path: Path) -> None:
    run = CliRunner().invoke(report, [str(tmp_path)])
    assert run.exit_code == 2
    assert run.stderr == (
        f"error: no result file at {tmp_path / 'result.json'}\n"
        "hint: pass a run directory that has result.json\n"
    )


def test_a_garbled_result_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('{"schema_version": 2, "run": ', encoding="utf-8")
    run = CliRunner().invoke(report, [str(path)])
    assert run.exit_code == 2
    assert run.stderr.startswith(f"error: {path} is not valid JSON (line 1, column 30")
    assert "Traceback" not in run.output


def test_an_unwritable_directory_is_one_clear_line(tmp_path: Path) -> None:
    write_result(failing_result(), tmp_path / "result.json")
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    run = CliRunner().invoke(report, [str(tmp_path), "--out", str(blocker / "sub")])
    assert run.exit_code == 2
    assert run.stderr.startswith(f"error: cannot write reports to {blocker / 'sub'}")
