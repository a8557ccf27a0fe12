"""`loadlens demo`: start the bundled demo service and run a bundled scenario's plan against it.

    loadlens demo [--quick] [--fault NAME]... [--scenario NAME] [--out DIR] [--workers N] [--quiet]
    loadlens demo --tour [--fault NAME]... [--out DIR] [--workers N]
    loadlens demo --list
    loadlens demo serve [--port N] [--fault NAME]... [--data DIR]

`--fault X` runs the scenario that exercises X (demo/scenarios: FAULT_SCENARIOS) unless
`--scenario` names another. `--tour` runs every fault (or only those `--fault` names) once,
each with its scenario's quick plan on a fresh service, and prints a table: fault, top
finding, whether it is the expected one, verdict (cli/demo_tour.py).

The service runs in its own process on 127.0.0.1 and a free port, over a fresh database kept
in `OUT/demo-data/<id>/` (so it can be inspected afterwards); it is stopped however the run
ends. The scenario's gates are judged and its invariants checked against that database (the
variable `db`). Exit codes are those of `loadlens run`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.errors import EXIT_INTERRUPTED, LoadlensError, UsageError

if TYPE_CHECKING:
    from loadlens.model.scenario import Scenario

# --quick fits every scenario's stages (ramps and holds) into this many seconds, so that with
# the service's start, the workers' start, setup and teardown the demo ends within a minute.
QUICK_PLAN_S = 20.0
# ... except where the finding a fault exists to show needs longer stages: drift needs 15
# steady seconds in one stage after its warm-up (findings/drift.py MIN_POINTS), so `leak` keeps
# the soak's whole 90 s; saturation needs stages long enough for their throughput intervals to
# part; the login scenarios enough logins at their lowest load to read a slow mode there.
QUICK_PLAN_BY_FAULT_S = {"leak": 90.0, "small-pool": 40.0, "slow-hash": 35.0, "token-race": 35.0}
# ... except that an open stage keeps this many times the samples its gates need (a p95 gate
# 100, a p99 gate 500), room for a busy host's late start.
QUICK_SAMPLE_MARGIN = 1.5
# --quick also caps how long in-flight iterations may finish at a stage's end.
QUICK_GRACE_S = 2.0
# The demo service is one process: more load generators than this only compete with it for CPU.
MAX_DEFAULT_WORKERS = 4


@click.group(invoke_without_command=True)
@click.option(
    "--quick",
    is_flag=True,
    help=f"Shorten the plan to about {QUICK_PLAN_S:.0f} s (more where a gate needs samples).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Switch a fault of the service on (repeatable; see --list).",
)
@click.option(
    "--scenario",
    metavar="NAME",
    help="Bundled scenario to run (default: the one that exercises the first --fault, else "
    "crud-level1).",
)
@click.option(
    "--out",
    "out",
    default="loadlens-runs",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory that receives one sub-directory per run.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help=f"Worker processes (default: one per core, at most {MAX_DEFAULT_WORKERS}).",
)
@click.option("--quiet", is_flag=True, help="No live view; print only the summary (for CI).")
@click.option("--list", "list_only", is_flag=True, help="List bundled scenarios and faults.")
@click.option(
    "--tour",
    is_flag=True,
    help="Run every fault (or those --fault names) once, with quick plans, and print fault, "
    "top finding and verdict.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    quick: bool,
    faults: tuple[str, ...],
    scenario: str | None,
    out: Path,
    workers: int | None,
    quiet: bool,
    list_only: bool,
    tour: bool,
) -> None:
    """Run the bundled demo service and a plan against it."""
    from loadlens.cli.main import abort

    if ctx.invoked_subcommand is not None:
        return
    try:
        if list_only:
            _list()
            return
        if tour:
            from loadlens.cli.demo_tour import run_tour

            code = run_tour(out, workers, faults)
        else:
            code, _ = run_demo(scenario, faults, quick, out, workers, quiet)
    except LoadlensError as error:
        abort(error)
        return
    except KeyboardInterrupt:
        # Ctrl-C before or after the run itself (the run handles its own and reports it).
        code = EXIT_INTERRUPTED
    raise SystemExit(code)


@demo.command()
@click.option("--port", type=int, default=8000, show_default=True, help="Port on 127.0.0.1.")
@click.option("--fault", "faults", multiple=True, metavar="NAME", help="Switch a fault on.")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the database (default: a temporary one, removed at exit).",
)
def serve(port: int, faults: tuple[str, ...], data: Path | None) -> None:
    """Serve the demo service in the foreground until Ctrl-C."""
    from loadlens.cli.main import abort

    try:
        _serve(port, faults, data)
    except LoadlensError as error:
        abort(error)
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None


def _serve(port: int, faults: tuple[str, ...], data: Path | None) -> None:
    import tempfile

    from loadlens.demo import serve_forever
    from loadlens.demo.server import HOST

    check_faults(faults)
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")

    def ready(url: str) -> None:
        on = ", ".join(faults) if faults else "none"
        click.echo(f"demo service: {url} (faults: {on}; Ctrl-C stops)", nl=True)

    with tempfile.TemporaryDirectory(prefix="loadlens-demo-") as temporary:
        data_dir = data if data is not None else Path(temporary)
        try:
            serve_forever(HOST, port, data_dir, faults, on_ready=ready)
        except OSError as error:
            raise LoadlensError(
                f"cannot serve on {HOST}:{port}: {error.strerror or error}",
                hint="--port 0 picks a free port",
            ) from None


def run_demo(
    name: str | None,
    faults: tuple[str, ...],
    quick: bool,
    out: Path,
    workers: int | None,
    quiet: bool,
) -> tuple[int, Path | None]:
    """Run a bundled scenario against a fresh demo service: the exit code, and the run's
    directory (None if none was made)."""
    from loadlens.cli.run import check_workers, console_for_output, run_and_summarise
    from loadlens.demo import DemoServer
    from loadlens.demo.db import DATABASE_NAME
    from loadlens.demo.scenarios import SCENARIOS, scenario_for, scenario_path
    from loadlens.engine.coordinator import default_workers
    from loadlens.engine.rundir import new_run_id
    from loadlens.spec import load_scenario

    check_workers(workers)
    check_faults(faults)
    name = name or scenario_for(faults)
    if name not in SCENARIOS:
        raise UsageError(f"unknown scenario: {name}; bundled scenarios: {', '.join(SCENARIOS)}")
    console = console_for_output()
    data_dir = out / "demo-data" / new_run_id(name)
    data_dir.mkdir(parents=True)
    server = DemoServer(data_dir, faults=faults)
    try:
        try:
            url = server.start()
        except (RuntimeError, TimeoutError) as error:
            raise LoadlensError(f"the demo service did not start: {error}") from None
        scenario = load_scenario(scenario_path(name), target_override=url)
        if quick:
            budget = max((QUICK_PLAN_BY_FAULT_S.get(f, QUICK_PLAN_S) for f in faults), default=0.0)
            scenario = shorten(scenario, max(budget, QUICK_PLAN_S))
        on = ", ".join(faults) if faults else "none"
        console.print(f"demo service: {url} (faults: {on})", markup=False)
        console.print(f"scenario: {name} ({_plan_length(scenario):.0f} s of stages)")
        console.print(f"service database: {data_dir / DATABASE_NAME}", markup=False, soft_wrap=True)
        count = workers or min(default_workers(), MAX_DEFAULT_WORKERS)
        variables = {"db": f"sqlite:///{data_dir / DATABASE_NAME}"}
        before = set(out.iterdir())
        # With a fault on, every stage runs even past failed gates: the point is to show the
        # diagnosis, which needs each stage's data (the verdict still says NO-GO).
        code = run_and_summarise(
            scenario,
            out,
            count,
            quiet,
            False,
            console,
            continue_on_fail=bool(faults),
            variables=variables,
        )
        made = [p for p in set(out.iterdir()) - before if (p / "result.json").exists()]
    finally:
        server.stop()
    return code, made[0] if len(made) == 1 else None


def check_faults(faults: tuple[str, ...]) -> None:
    from loadlens.demo import FAULTS

    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise UsageError(
            f"unknown fault(s): {', '.join(unknown)}; valid faults: {', '.join(FAULTS)}"
        )


def shorten(scenario: Scenario, budget_s: float) -> Scenario:
    """The scenario with its stages' ramps and holds scaled to last about `budget_s` in all,
    and their grace capped; a plan already within the budget keeps its timing.

    An open stage keeps a hold long enough for QUICK_SAMPLE_MARGIN × the samples its gates
    need (never longer than it had), which may take the plan past the budget: scaled down
    blindly, the crud demo's warm-up (20/s) held 2.2 s, about 50 requests, and its p95 gate
    (100 samples) was judged or not by a few requests either way.
    """
    from loadlens.model.plan import OpenLoad

    total = _plan_length(scenario)
    factor = min(1.0, budget_s / total) if total > 0 else 1.0
    stages = []
    for stage in scenario.plan:
        hold = stage.duration * factor
        needed = max((gate.min_samples for gate in scenario.stage_gates(stage)), default=0)
        if isinstance(stage.load, OpenLoad) and stage.load.rate > 0 and needed:
            hold = max(hold, min(stage.duration, QUICK_SAMPLE_MARGIN * needed / stage.load.rate))
        stages.append(
            dataclasses.replace(
                stage,
                duration=hold,
                ramp=stage.ramp * factor,
                grace=min(stage.grace, QUICK_GRACE_S),
            )
        )
    return dataclasses.replace(scenario, plan=tuple(stages))


def _plan_length(scenario: Scenario) -> float:
    return sum(stage.length for stage in scenario.plan)


def _list() -> None:
    from loadlens.demo import FAULT_DESCRIPTIONS
    from loadlens.demo.scenarios import DEFAULT_SCENARIO, SCENARIOS

    width = max(len(name) for name in [*SCENARIOS, *FAULT_DESCRIPTIONS])
    click.echo("scenarios (loadlens demo --scenario NAME):")
    for name, description in SCENARIOS.items():
        default = " [default]" if name == DEFAULT_SCENARIO else ""
        click.echo(f"  {name:<{width}}  {description}{default}")
    click.echo("faults (loadlens demo --fault NAME, repeatable):")
    for name, description in FAULT_DESCRIPTIONS.items():
        click.echo(f"  {name:<{width}}  {description}")
