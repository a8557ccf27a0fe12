"""`loadlens analyze RESULT.json|RUN_DIR`: diagnose a stored result again and print why.

Re-runs the findings (analysis/findings) and the verdict on the stored gate results, prints
the findings and the verdict; `--json` prints them as JSON instead. The stored result is not
changed. Exit codes: 0 analysed; 2 the result cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.errors import LoadlensError

if TYPE_CHECKING:
    from loadlens.metrics.result import RunResult


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print findings and verdict as JSON.")
def analyze(source: Path, as_json: bool) -> None:
    """Explain a stored run: findings with their evidence, then the verdict."""
    from loadlens.cli.main import abort

    try:
        result = _analysed(source)
    except LoadlensError as error:
        abort(error)
        return
    verdict = result.verdict
    if as_json:
        payload = {
            "findings": [f.to_dict() for f in result.findings],
            "verdict": None if verdict is None else verdict.to_dict(),
        }
        click.echo(json.dumps(payload, indent=1, ensure_ascii=False))
        return
    from rich.console import Console

    from loadlens.report.console import findings

    console = Console(highlight=False, soft_wrap=True)
    if result.findings:
        console.print(findings(result.findings))
    else:
        console.print("Findings: none — no failure or latency pattern passed the thresholds.")
    if verdict is not None:
        console.print(f"verdict: {verdict.kind.label}")
        for reason in verdict.reasons:
            console.print(f"  - {reason}", markup=False)


def _analysed(source: Path) -> RunResult:
    from loadlens.analysis.findings import diagnose
    from loadlens.analysis.verdict import decide
    from loadlens.metrics.result import read_result

    result = read_result(source / "result.json" if source.is_dir() else source)
    result.findings = diagnose(result)
    stored = result.verdict
    gates = result.gates or (list(stored.gates) if stored is not None else [])
    not_run = stored.stages_not_run if stored is not None else ()
    result.verdict = decide(result, gates, stages_not_run=not_run)
    return result
