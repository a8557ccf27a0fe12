"""report.md: exact output on fixed results, and the parts every report must have."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from report_golden import assert_golden
from report_samples import (
    HOSTILE,
    clean_result,
    failing_result,
    hostile_result,
    interrupted_result,
)

from loadlens.metrics.result import RunResult
from loadlens.report.markdown import cell, render_markdown, text

SAMPLES: dict[str, Callable[[], RunResult]] = {
    "clean": clean_result,
    "failing": failing_result,
    "interrupted": interrupted_result,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_report_md_matches_its_golden_file(name: str) -> None:
    assert_golden(f"{name}.md", render_markdown(SAMPLES[name]()))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_same_result_read_back_from_json_gives_the_same_report(name: str) -> None:
    result = SAMPLES[name]()
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert render_markdown(again) == render_markdown(result)


def test_title_and_verdict_come_first() -> None:
    lines = render_markdown(failing_result()).splitlines()
    assert lines[0] == "# Load test report: users-crud"
    assert lines[2] == "**Verdict: NO-GO** · run complete"


def test_a_result_without_verdict_or_gates_says_so() -> None:
    result = dataclasses.replace(clean_result(), gates=[], verdict=None)
    report = render_markdown(result)
    assert "**Verdict: NO VERDICT**" in report
    assert "No verdict: the run was not judged." in report
    assert "No gates were defined or judged." in report


def test_gates_of_the_verdict_are_shown_when_the_result_lists_none() -> None:
    result = dataclasses.replace(failing_result(), gates=[])
    assert (
        "| load | p95 < 50ms | < 50ms | 61.2ms | 176 | worst 2s window (to second 3) | FAIL |"
        in (render_markdown(result))
    )


def test_findings_observations_and_invariants_render_none_recorded() -> None:
    report = render_markdown(clean_result())
    for title in ("## Findings", "## Service observations", "## Invariants"):
        assert f"{title}\n\nNone recorded." in report


def test_an_interrupted_run_is_marked_and_names_the_stages_not_run() -> None:
    report = render_markdown(interrupted_result())
    assert "run INCOMPLETE (interrupted)" in report
    assert "Stages not run: `load`, `stress`." in report
    assert "| ended | unknown |" in report


def test_hostile_names_are_text_not_markup() -> None:
    report = render_markdown(hostile_result())
    assert HOSTILE not in report.replace(f"`{HOSTILE}`", "")
    assert "| &lt;script>alert(1)&lt;/script> |" in report


def test_markdown_escaping() -> None:
    assert text("p95 < 50ms") == "p95 < 50ms"
    assert text("a <b>c</b> `<b>`") == "a &lt;b>c&lt;/b> `<b>`"
    assert text("*x* [y]") == "\\*x\\* \\[y\\]"
    assert text("unpaired ` tick") == "unpaired ' tick"
    assert cell("a|b\nc") == "a\\|b c"


def test_a_plan_stopped_after_a_failed_gate_never_says_every_stage_ran() -> None:
    # setup and teardown are listed as stages; the plan's `baseline` never ran
    from report_samples import build

    from loadlens.metrics.result import StageInfo

    stages = [
        StageInfo("setup", 0, {"model": "setup"}, 0.0, 0.0),
        StageInfo("smoke", 1, {"model": "closed", "users": 5, "start_users": 0}, 3.0, 0.0),
        StageInfo("baseline", 2, {"model": "open", "rate": 40.0}, 4.0, 0.0),
        StageInfo("teardown", 3, {"model": "teardown"}, 0.0, 0.0),
    ]
    result = build({"read": (2.0, 1.5, 10, {})}, stages=stages, seconds={0: 1, 1: 3, 3: 1})
    report = render_markdown(result)
    assert "Every planned stage ran" not in report
    assert "The plan stopped early: 1 of 2 planned stages ran. Stages not run: `baseline`." in (
        report
    )
