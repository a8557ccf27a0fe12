"""`loadlens demo --tour`: every fault once (or those `--fault` names, in the order of
FAULTS), each with the scenario that exercises it.

Each fault runs on a fresh demo service with its scenario's quick plan (cli/demo.py), quietly;
then one table says, per fault, the top finding of its run, whether it is the finding the fault
should give (demo/scenarios: FAULT_FINDINGS), and the verdict. The exit code is 0 when every
fault got its expected top finding, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path

import click

# The tour's own exit codes: every fault explained, or not.
EXIT_ALL_EXPLAINED = 0
EXIT_SOME_MISSED = 1


def run_tour(out: Path, workers: int | None, only: tuple[str, ...] = ()) -> int:
    """Run every fault (or those in `only`), print the table; the exit code."""
    from loadlens.cli.demo import check_faults, run_demo
    from loadlens.cli.run import check_workers
    from loadlens.demo import FAULTS
    from loadlens.demo.scenarios import FAULT_FINDINGS, FAULT_SCENARIOS
    from loadlens.metrics.result import read_result

    # Refused before the first fault runs, not after minutes of the others.
    check_faults(only)
    check_workers(workers)
    rows: list[tuple[str, str, str, bool, str]] = []
    for fault in (f for f in FAULTS if not only or f in only):
        click.echo(f"tour: {fault} ({FAULT_SCENARIOS[fault]}) ...")
        _, run_dir = run_demo(None, (fault,), True, out, workers, True)
        if run_dir is None:
            rows.append((fault, FAULT_SCENARIOS[fault], "(no result)", False, "-"))
            continue
        result = read_result(run_dir / "result.json")
        top = result.findings[0] if result.findings else None
        verdict = result.verdict.kind.value.upper().replace("_", "-") if result.verdict else "-"
        if top is None:
            rows.append((fault, FAULT_SCENARIOS[fault], "(no finding)", False, verdict))
            continue
        expected = FAULT_FINDINGS[fault] == (top.kind.value, top.attribution.value)
        name = f"{top.kind.value} / {top.attribution.value}"
        rows.append((fault, FAULT_SCENARIOS[fault], name, expected, verdict))
    _print(rows)
    return EXIT_ALL_EXPLAINED if all(row[3] for row in rows) else EXIT_SOME_MISSED


def _print(rows: list[tuple[str, str, str, bool, str]]) -> None:
    header = ("fault", "scenario", "top finding", "expected", "verdict")
    table = [header, *((f, s, t, "yes" if ok else "NO", v) for f, s, t, ok, v in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
