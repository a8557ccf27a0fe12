"""Progressive plans against the demo service: gates stop the plan, verdicts and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from loadlens.demo import DemoServer
from loadlens.model.verdict import GateStatus, VerdictKind
from tests.support.runs import loadlens, write

# The middle stage's second gate fails whatever the machine does: a rate of statuses is not
# judged against the generator's error bound (a latency target below it could be uncertain).
THREE_STAGES = """\
name: three-stages
target: http://127.0.0.1:1
flows:
  - name: read
    steps:
      - request: {name: read, method: GET, url: "/users/user-{{ random_int(0, 99) }}"}
plan:
  - {stage: smoke, users: 2, duration: 2s, gates: ["error_rate < 1%"]}
  - {stage: load, users: 4, duration: 2s,
     gates: ["error_rate < 1%", "rate(status=2xx){op:read} < 1%"]}
  - {stage: stress, users: 6, duration: 2s, gates: ["error_rate < 1%"]}
"""


def _run(tmp_path: Path, url: str, scenario: Path, *extra: str) -> tuple[int, dict[str, object]]:
    out = tmp_path / f"runs{len(list(tmp_path.glob('runs*')))}"
    run = loadlens(
        "run",
        str(scenario),
        "--target",
        url,
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
        *extra,
        out=out,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.code, {"run": run, "result": run.result()}


def test_a_failed_middle_stage_stops_the_plan_with_no_go(tmp_path: Path) -> None:
    scenario = write(tmp_path / "three.yaml", THREE_STAGES)
    with DemoServer(tmp_path / "demo") as server:
        assert server.url is not None
        code, got = _run(tmp_path, server.url, scenario)
        code_all, got_all = _run(tmp_path, server.url, scenario, "--continue-on-fail")

    result = got["result"]
    assert code == 1
    assert [stage.ran for stage in result.stages] == [True, True, False]  # type: ignore[attr-defined]
    verdict = result.verdict  # type: ignore[attr-defined]
    assert verdict.kind is VerdictKind.NO_GO
    assert verdict.stages_not_run == ("stress",)
    assert verdict.failed_stage == "load"
    assert any(
        "rate(status=2xx){op:read} < 1%" in reason and "samples" in reason
        for reason in verdict.reasons
    )
    failed = [g for g in result.gates if g.status is GateStatus.FAILED]  # type: ignore[attr-defined]
    assert [(g.stage, g.gate) for g in failed] == [("load", "rate(status=2xx){op:read} < 1%")]
    assert "NO-GO" in got["run"].stdout  # type: ignore[attr-defined]
    # the reports and JUnit carry the same verdict
    run_dir = got["run"].run_dir  # type: ignore[attr-defined]
    assert "NO-GO" in (run_dir / "report.md").read_text(encoding="utf-8")
    assert "failure" in (run_dir / "junit.xml").read_text(encoding="utf-8")
    on_disk = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    assert on_disk["verdict"]["kind"] == "no_go"

    result_all = got_all["result"]
    assert code_all == 1
    assert [stage.ran for stage in result_all.stages] == [True, True, True]  # type: ignore[attr-defined]
    assert result_all.verdict.kind is VerdictKind.NO_GO  # type: ignore[attr-defined]


def test_passing_gates_give_go_and_exit_zero(tmp_path: Path) -> None:
    scenario = write(
        tmp_path / "ok.yaml",
        THREE_STAGES.replace("rate(status=2xx){op:read} < 1%", "p95{op:read} < 5s"),
    )
    with DemoServer(tmp_path / "demo") as server:
        assert server.url is not None
        code, got = _run(tmp_path, server.url, scenario)
    assert code == 0
    assert got["result"].verdict.kind is VerdictKind.GO  # type: ignore[attr-defined]


# A worker counts as saturated at 1 % CPU here (`generator:`), so that every second of this
# stage is one in which the generator, not the service, was the limit, however busy the host.
STARVED = """\
name: starved
target: http://127.0.0.1:1
generator: {max_cpu: 1%}
flows:
  - name: read
    steps:
      - request: {name: read, method: GET, url: /health}
plan:
  - {stage: flood, rate: 2000/s, duration: 2s, gates: ["error_rate < 50%"]}
"""


def test_a_saturated_generator_leaves_a_passing_run_inconclusive(tmp_path: Path) -> None:
    # the planned load was not delivered as planned: a pass says nothing about the service
    scenario = write(tmp_path / "starved.yaml", STARVED)
    with DemoServer(tmp_path / "demo") as server:
        assert server.url is not None
        code, got = _run(tmp_path, server.url, scenario)
    verdict = got["result"].verdict  # type: ignore[attr-defined]
    assert verdict.kind is VerdictKind.INCONCLUSIVE, verdict
    assert any(
        reason.startswith(
            "the planned load was not delivered: stage `flood`: the generator "
            "was saturated: worker CPU ≥ 1 %"
        )
        for reason in verdict.reasons
    ), verdict.reasons
    assert code == 3
