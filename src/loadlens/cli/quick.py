"""`loadlens quick URL`: one request, one stage, no file — then everything as `loadlens run`.

The command line becomes the scenario tree a file would hold and goes through the same
validation, so a bad URL, method or header gets the same message a scenario file would (its
key named by the option that gave it). Results, reports, history and exit codes are `run`'s,
and so are its options, but for those that act only on a file's plan (cli/run.py run_options).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from loadlens.cli.run import run_options
from loadlens.errors import LoadlensError, Problem, SpecError, UsageError

if TYPE_CHECKING:
    from loadlens.model.scenario import Scenario
    from loadlens.spec.overrides import Overrides

_SOURCE = "<command line>"
_DEFAULT_DURATION = "10s"
# The scenario tree's keys, as the options that fill them (for problems' messages).
_OPTION_OF_KEY = (
    ("steps[0].request.method", "-m/--method"),
    ("steps[0].request.headers", "-H/--header"),
    ("steps[0].request.body", "--body"),
    ("steps[0].request.url", "URL"),
    ("plan[0].users", "-u/--users"),
    ("plan[0].rate", "-r/--rate"),
    ("plan[0].duration", "-d/--duration"),
    ("target", "URL"),
)


@click.command()
@click.argument("url")
@click.option(
    "-u", "--users", type=int, default=None, help="Virtual users (closed load; default 1)."
)
@click.option("-r", "--rate", metavar="RATE", help="Arrival rate instead of users: 100/s, 600/m.")
@click.option(
    "-d",
    "--duration",
    metavar="DURATION",
    default=_DEFAULT_DURATION,
    show_default=True,
    help="How long the load holds: 30s, 2m.",
)
@click.option("-m", "--method", default="GET", show_default=True, help="HTTP method.")
@click.option(
    "-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="A request header."
)
@click.option("--body", default=None, help="Request body, sent as given (set its content-type).")
@run_options
def quick(
    url: str,
    users: int | None,
    rate: str | None,
    duration: str,
    method: str,
    headers: tuple[str, ...],
    body: str | None,
    out: Path,
    workers: int | None,
    quiet: bool,
    insecure: bool,
    store: str | None,
    env: tuple[str, ...],
    assignments: tuple[str, ...],
    prometheus: str | None,
    otlp: str | None,
    dashboard: str | None,
) -> None:
    """Send one request to URL, from USERS users or at RATE, for DURATION."""
    from loadlens.cli.main import RunFinished, abort
    from loadlens.cli.run import (
        check_outputs,
        check_workers,
        console_for_output,
        run_and_summarise,
    )
    from loadlens.spec.overrides import parse_overrides

    try:
        overrides = parse_overrides(env=env, variables=assignments)
        check_workers(workers)
        check_outputs(prometheus, otlp, dashboard)
        scenario = build_quick_scenario(
            url, users, rate, duration, method, headers, body, overrides
        )
        code = run_and_summarise(
            scenario,
            out,
            workers,
            quiet,
            insecure,
            console_for_output(),
            store=store,
            variables=dict(overrides.variables),
            prometheus=prometheus,
            otlp=otlp,
            dashboard=dashboard,
        )
    except LoadlensError as error:
        abort(error)
        return
    raise RunFinished(code)  # everything written and closed: `main` exits at once


def build_quick_scenario(
    url: str,
    users: int | None,
    rate: str | None,
    duration: str,
    method: str,
    headers: tuple[str, ...],
    body: str | None,
    overrides: Overrides | None = None,
) -> Scenario:
    """The validated one-stage Scenario the options describe."""
    from loadlens.spec.loader import build_from_mapping
    from loadlens.spec.nodes import Origin

    tree = quick_tree(url, users, rate, duration, method, headers, body)
    try:
        return build_from_mapping(
            tree, origin=Origin(_SOURCE, 0), base_dir=Path.cwd(), overrides=overrides
        )
    except SpecError as error:
        raise SpecError([_as_option(problem) for problem in error.problems]) from None


def quick_tree(
    url: str,
    users: int | None,
    rate: str | None,
    duration: str,
    method: str,
    headers: tuple[str, ...],
    body: str | None,
) -> dict[str, object]:
    """The scenario tree (as a YAML file would hold it) of the options."""
    if users is not None and rate is not None:
        raise UsageError("give -u/--users or -r/--rate, not both")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"URL `{url}`: expected `http://host[:port][/path]` or `https://...`")
    path = parts.path or "/"
    request: dict[str, object] = {
        "method": method.upper(),
        "url": f"{path}?{parts.query}" if parts.query else path,
    }
    if headers:
        request["headers"] = dict(_header(text) for text in headers)
    if body is not None:
        request["body"] = body
    load: dict[str, object] = (
        {"rate": rate} if rate is not None else {"users": 1 if users is None else users}
    )
    return {
        "name": "quick",
        "target": f"{parts.scheme}://{parts.netloc}",
        "steps": [{"request": request}],
        "plan": [{"stage": "quick", **load, "duration": duration}],
    }


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise UsageError(f"-H takes 'NAME: VALUE', not `{text}`")
    return name.strip(), value.strip()


def _as_option(problem: Problem) -> Problem:
    """The problem with its scenario key named as the option that set it."""
    for key, option in _OPTION_OF_KEY:
        if problem.key == key or problem.key.startswith(f"{key}."):
            detail = problem.key[len(key) + 1 :]
            named = f"{option} {detail}" if detail else option
            return Problem(_SOURCE, 0, 0, named, problem.message, problem.hint)
    return Problem(_SOURCE, 0, 0, problem.key, problem.message, problem.hint)
