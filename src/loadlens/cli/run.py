"""`loadlens run FILE`: run a scenario's plan, stream results to disk, judge it, report it.

Exit codes follow the verdict: 0 GO, 1 NO-GO, 3 INCONCLUSIVE; 2 invalid input (nothing was
sent); stopped by a signal, 128 + its number: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP (the
partial result and reports are written, marked incomplete and interrupted, and the verdict is
INCONCLUSIVE). The scheme is `loadlens.errors`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loadlens.errors import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    LoadlensError,
    UsageError,
    exit_code_for_signal,
)

if TYPE_CHECKING:
    from rich.console import Console

    from loadlens.cli.live import LiveView
    from loadlens.engine.placement import WorkerBackend
    from loadlens.metrics.result import RunResult
    from loadlens.model.scenario import Scenario
    from loadlens.outputs.dashboard import Dashboard
    from loadlens.outputs.fanout import Listener
    from loadlens.outputs.otlp import OtlpExporter
    from loadlens.outputs.prometheus import PrometheusExporter
    from loadlens.outputs.snapshot import RunLabels
    from loadlens.spec.overrides import Overrides


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `loadlens run` and `loadlens quick` share: where results go, how the run
    goes, and `-e`/`--var` values. Those that act only on a file's plan (`--target`, `-u`,
    `-r`, `-d` over its stages, `--stage`, `--continue-on-fail` past a stage's failed gates,
    `--no-preflight`) are `run`'s own: quick's plan is one stage it builds itself."""
    decorators = (
        click.option(
            "--out",
            "out",
            default="loadlens-runs",
            show_default=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Directory that receives one sub-directory per run.",
        ),
        click.option(
            "--workers", type=int, default=None, help="Worker processes (default: one per core)."
        ),
        click.option(
            "--quiet", is_flag=True, help="No live view; print only the summary (for CI)."
        ),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates."),
        click.option(
            "--store",
            metavar="URL",
            envvar="LOADLENS_STORE",
            help="Run history database (default: history.db in --out; env LOADLENS_STORE).",
        ),
        click.option(
            "-e",
            "--env",
            "env",
            multiple=True,
            metavar="NAME=VALUE",
            help="Supply `${env:NAME}`, over the environment's own NAME.",
        ),
        click.option(
            "--var",
            "assignments",
            multiple=True,
            metavar="NAME=VALUE",
            help="A constant variable: fills `{{ NAME }}` in requests, invariants and "
            "reconciliation (e.g. db=sqlite:///app.db); over the scenario's own `vars:`.",
        ),
        click.option(
            "--prometheus",
            metavar="[HOST:]PORT",
            default=None,
            help="Serve live metrics for Prometheus on HOST:PORT/metrics while the run goes "
            "(host 127.0.0.1 by default; port 0 picks a free one and prints it).",
        ),
        click.option(
            "--otlp",
            metavar="URL",
            default=None,
            help="Push the same metrics every second to an OpenTelemetry collector over "
            "OTLP/HTTP (e.g. http://127.0.0.1:4318; needs loadlens[otlp]).",
        ),
        click.option(
            "--dashboard",
            metavar="[HOST:]PORT",
            default=None,
            help="Serve a live web dashboard on HOST:PORT while the run goes, then a link to "
            "report.html (host 127.0.0.1 by default; port 0 picks a free one and prints it).",
        ),
    )
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--target", metavar="URL", help="Target URL, overriding the scenario's `target`.")
@click.option(
    "-u",
    "--users",
    type=int,
    default=None,
    help="Users of every closed stage (or of --stage NAME).",
)
@click.option(
    "-r",
    "--rate",
    metavar="RATE",
    default=None,
    help="Arrival rate (100/s, 600/m) of every open stage (or of --stage NAME).",
)
@click.option(
    "-d",
    "--duration",
    metavar="DURATION",
    default=None,
    help="Hold duration (30s, 2m) of every stage (or of --stage NAME).",
)
@click.option("--stage", metavar="NAME", help="The one stage -u, -r and -d change.")
@click.option(
    "--no-preflight",
    "no_preflight",
    is_flag=True,
    help="Skip connecting to the target, databases and observers before the load.",
)
@click.option(
    "--continue-on-fail",
    is_flag=True,
    help="Run every stage even when one fails its gates.",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    default=None,
    help="Run the workers on a Ray cluster: auto, HOST:PORT or ray://HOST:PORT (needs "
    "loadlens[ray]; docs/distributed.md). Workers: one per CPU of each node by default.",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="With --cluster: where the workers connect back to this machine (default: its "
    "address facing the cluster, a free port).",
)
@click.option(
    "--per-node",
    "per_node",
    type=int,
    default=None,
    help="With --cluster: workers per node (default: one per CPU).",
)
@run_options
def run(
    file: str,
    target: str | None,
    users: int | None,
    rate: str | None,
    duration: str | None,
    stage: str | None,
    out: Path,
    workers: int | None,
    quiet: bool,
    insecure: bool,
    continue_on_fail: bool,
    store: str | None,
    env: tuple[str, ...],
    assignments: tuple[str, ...],
    prometheus: str | None,
    otlp: str | None,
    dashboard: str | None,
    no_preflight: bool,
    cluster: str | None,
    per_node: int | None,
    listen: str | None,
) -> None:
    """Run a scenario's plan against its target."""
    from loadlens.cli.main import RunFinished, abort
    from loadlens.spec.overrides import parse_overrides

    try:
        overrides = parse_overrides(
            users=users,
            rate=rate,
            duration=duration,
            stage=stage,
            env=env,
            variables=assignments,
        )
        code = execute(
            file,
            out,
            workers,
            target,
            quiet,
            insecure,
            continue_on_fail,
            store,
            overrides,
            preflight=not no_preflight,
            prometheus=prometheus,
            otlp=otlp,
            dashboard=dashboard,
            cluster=cluster,
            per_node=per_node,
            listen=listen,
        )
    except LoadlensError as error:
        abort(error)
        return
    raise RunFinished(code)  # everything written and closed: `main` exits at once


def execute(
    file: str,
    out: Path,
    workers: int | None,
    target: str | None,
    quiet: bool,
    insecure: bool,
    continue_on_fail: bool = False,
    store: str | None = None,
    overrides: Overrides | None = None,
    *,
    preflight: bool = True,
    prometheus: str | None = None,
    otlp: str | None = None,
    dashboard: str | None = None,
    cluster: str | None = None,
    per_node: int | None = None,
    listen: str | None = None,
) -> int:
    """Load, run and summarise; returns the exit code."""
    from loadlens.cli.options import check_offline, check_out_dir
    from loadlens.engine.preflight import reach
    from loadlens.spec import load_scenario

    check_workers(workers)
    check_outputs(prometheus, otlp, dashboard)
    check_out_dir(out)
    scenario = load_scenario(file, target_override=target, overrides=overrides)
    variables = dict(overrides.variables) if overrides is not None else None
    check_offline(scenario, workers, variables)
    if per_node is not None and (cluster is None or per_node < 1):
        raise UsageError(f"--per-node must be at least 1 and needs --cluster, not {per_node}")
    if listen is not None and cluster is None:
        raise UsageError("--listen needs --cluster")
    if preflight:
        reach(scenario, variables)
    backend = None
    if cluster is not None:
        from loadlens.engine.ray_workers import RayWorkers, parse_listen

        address = parse_listen(listen) if listen is not None else None
        backend = RayWorkers.connect(cluster, workers=workers, per_node=per_node)
        backend.listen = address
        workers = len(backend.slots)
    return run_and_summarise(
        scenario,
        out,
        workers,
        quiet,
        insecure,
        console_for_output(),
        continue_on_fail=continue_on_fail,
        store=store,
        variables=dict(overrides.variables) if overrides is not None else None,
        prometheus=prometheus,
        otlp=otlp,
        dashboard=dashboard,
        backend=backend,
    )


def check_workers(workers: int | None) -> None:
    """Refuse a worker count below one before anything starts."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")


def check_outputs(prometheus: str | None, otlp: str | None, dashboard: str | None = None) -> None:
    """Refuse a `--prometheus` or `--dashboard` value that is not [HOST:]PORT, or an `--otlp`
    value that is not an http(s) URL, before anything starts."""
    if prometheus is not None:
        from loadlens.outputs.prometheus import parse_listen_address

        parse_listen_address(prometheus)
    if otlp is not None:
        from loadlens.outputs.otlp import otlp_endpoint, require_sdk

        otlp_endpoint(otlp)
        require_sdk()
    if dashboard is not None:
        from loadlens.outputs.dashboard import parse_dashboard_address

        parse_dashboard_address(dashboard)


def console_for_output() -> Console:
    """The console summaries are printed on."""
    import sys

    from rich.console import Console

    # Outside a terminal (CI logs, pipes) rich would wrap at 80 columns and split messages.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def run_and_summarise(
    scenario: Scenario,
    out: Path,
    workers: int | None,
    quiet: bool,
    insecure: bool,
    console: Console,
    *,
    continue_on_fail: bool = False,
    store: str | None = None,
    variables: dict[str, str] | None = None,
    prometheus: str | None = None,
    otlp: str | None = None,
    dashboard: str | None = None,
    backend: WorkerBackend | None = None,
) -> int:
    """Run a loaded scenario's plan, judge it, print the summary, write the reports, record the
    run in the history store; the exit code. Shared by `loadlens run` and `loadlens demo`.

    `variables` fill `{{ NAME }}` placeholders of invariants and reconciliation (e.g. the
    demo's database path); `prometheus` ([HOST:]PORT) serves live metrics and `otlp` (a
    collector's URL) pushes them, until the reports are written; `dashboard` ([HOST:]PORT)
    serves the live web page, which links to report.html once it is written.
    """
    import sys

    from loadlens.engine.compiled import compile_scenario
    from loadlens.engine.coordinator import Coordinator, RunOptions, default_workers
    from loadlens.engine.stop_signals import StopSignals, ignore_stop_signals
    from loadlens.http import ClientOptions

    compiled = compile_scenario(scenario)
    options = RunOptions(
        out=out,
        workers=workers or default_workers(),
        client=ClientOptions(verify_tls=not insecure),
        command=tuple(["loadlens", *sys.argv[1:]]),
        continue_on_fail=continue_on_fail,
        variables=dict(variables or {}),
    )
    signals = StopSignals()
    coordinator = Coordinator(compiled, options, signals=signals, backend=backend)
    try:
        # The workers boot while this process imports the judge, the live view and the
        # reporters below, instead of after.
        coordinator.start_workers()
        from loadlens.cli.judging import attach_judge
        from loadlens.cli.preload import WrapUpPreloader

        live = None if quiet else _live_view(console, len(scenario.plan))
        labels = _run_labels(scenario, lambda: coordinator.run_id)
        exporter = _prometheus_exporter(prometheus, labels)
        pusher = _otlp_exporter(otlp, labels)
        page = _dashboard(dashboard, labels, scenario)
        preloading = WrapUpPreloader(store, out)  # the wrap-up's imports, during the stage
        listener = _one_listener(live, exporter, pusher, page, preloading)
        coordinator.listener = listener or coordinator.listener
        judge = attach_judge(coordinator, ready=preloading.join)
    except BaseException:
        coordinator.close()
        raise
    if live is not None:
        live.gates = judge.live
    if page is not None:
        page.gates = judge.live
    # Held past the run until the reports are written: a stop signal then is counted, not
    # allowed to kill the process half-way through a file.
    with signals.catching():
        try:
            if exporter is not None:
                port = exporter.start()
                host = f"[{exporter.host}]" if ":" in exporter.host else exporter.host
                console.print(f"prometheus: http://{host}:{port}/metrics", soft_wrap=True)
            if pusher is not None:
                pusher.start()
                console.print(f"otlp: {pusher.endpoint}", soft_wrap=True)
            if page is not None:
                console.print(f"dashboard: {page.start()}", soft_wrap=True)
            outcome = coordinator.run()
            preloading.join()
            from loadlens.report.console import summary  # preloaded during the run

            console.print(summary(outcome.result))
            for note in outcome.notes:
                console.print(f"[yellow]note:[/yellow] {note}")
            for failure in outcome.failures:
                console.print(f"[red]error:[/red] {failure}")
            console.print(f"result: {outcome.directory / 'result.json'}", soft_wrap=True)
            html = _write_reports(outcome.result, outcome.directory, console)
            if page is not None:  # the page links to report.html from now on
                page.report_written(None if html is None else str(html))
        finally:
            coordinator.close()  # when `run` was not reached; else they are gone already
            if page is not None:
                page.close()
            if exporter is not None:  # serves the last numbers until the reports are written
                exporter.close()
            if pusher is not None:  # exports the final numbers once more
                pusher.close()
        _record(outcome.result, outcome.directory, store, console)
    if outcome.result.interrupted:
        # Asked to stop, and stopped with everything written: a signal repeated while the
        # process exits must not turn the exit code into a death by that signal.
        ignore_stop_signals()
    return exit_code(outcome.result)


def _live_view(console: Console, stages: int) -> LiveView:
    from loadlens.cli.live import LiveView

    return LiveView(console, stages)


def _run_labels(scenario: Scenario, run_id: Callable[[], str | None]) -> RunLabels:
    """What the live outputs say about the run; its target redacted as the reports do."""
    from loadlens.model.redaction import Redactor
    from loadlens.outputs.snapshot import RunLabels

    target = Redactor.of(scenario.secrets).text(scenario.target)
    return RunLabels(run_id, scenario.name, target)


def _prometheus_exporter(address: str | None, labels: RunLabels) -> PrometheusExporter | None:
    """The `--prometheus` endpoint, not yet listening; None without the option."""
    if address is None:
        return None
    from loadlens.outputs.prometheus import PrometheusExporter, parse_listen_address

    host, port = parse_listen_address(address)
    return PrometheusExporter(host, port, labels)


def _otlp_exporter(url: str | None, labels: RunLabels) -> OtlpExporter | None:
    """The `--otlp` pusher, not yet started; None without the option."""
    if url is None:
        return None
    from loadlens.outputs.otlp import OtlpExporter

    return OtlpExporter(url, labels)


def _dashboard(address: str | None, labels: RunLabels, scenario: Scenario) -> Dashboard | None:
    """The `--dashboard` server, not yet listening; None without the option."""
    if address is None:
        return None
    from loadlens.outputs.dashboard import Dashboard, parse_dashboard_address
    from loadlens.outputs.dashboard_state import PlannedStage

    host, port = parse_dashboard_address(address)
    plan = [PlannedStage(stage.name, stage.length, stage.counted) for stage in scenario.plan]
    return Dashboard(host, port, labels, plan)


def _one_listener(*listeners: Listener | None) -> Listener | None:
    """The coordinator takes one listener: none, the one, or a fan-out to all."""
    from loadlens.outputs.fanout import FanOut

    present = [listener for listener in listeners if listener is not None]
    if len(present) <= 1:
        return present[0] if present else None
    return FanOut(present)


def exit_code(result: RunResult) -> int:
    """0 GO, 1 NO-GO, 3 INCONCLUSIVE; stopped by a signal, 128 + its number (130 SIGINT)."""
    import signal

    from loadlens.model.verdict import VerdictKind

    if result.interrupted:
        stopped_by = getattr(signal, result.interrupted_by or "", None)
        if isinstance(stopped_by, signal.Signals):
            return exit_code_for_signal(stopped_by)
        return EXIT_INTERRUPTED
    kind = result.verdict.kind if result.verdict is not None else VerdictKind.INCONCLUSIVE
    return {VerdictKind.GO: EXIT_OK, VerdictKind.NO_GO: EXIT_FAILED}.get(kind, EXIT_INCONCLUSIVE)


def _write_reports(result: RunResult, directory: Path, console: Console) -> Path | None:
    """Write and list the reports; report.html's path (None when it was not written)."""
    from loadlens.report.write import write_reports

    try:
        paths = write_reports(result, directory)
    except OSError as error:  # the result is on disk; a report can be written again later
        console.print(f"[yellow]warning:[/yellow] reports not written: {error}")
        return None
    for path in paths:
        console.print(f"report: {path}", soft_wrap=True)
    return next((path for path in paths if path.suffix == ".html"), None)


def _record(result: RunResult, directory: Path, store: str | None, console: Console) -> None:
    from loadlens.store import record_run

    recorded = record_run(result, directory, url=store)
    if not recorded.stored and recorded.error is not None:
        console.print(
            f"[yellow]warning:[/yellow] run not recorded in the history: "
            f"{recorded.error.message}; import it later with `loadlens history import "
            f"{directory}`"
        )
