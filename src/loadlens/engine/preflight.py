"""What is checked before any load is sent: the databases, observers and target a run needs.

A run that cannot check its invariants or observe its service ends INCONCLUSIVE after all its
load was sent (tens of thousands of requests, for nothing). So, before the first request:

- `offline_problems` (also run by `validate`, no network): the machine's limits
  (`engine.limits`), and each invariant's and reconciliation's database URL parsed and its
  driver imported;
- `reach` (by `run`, unless `--no-preflight`): the target resolved and connected once over
  TCP (no request is sent), each database connected and `SELECT 1` run in a read-only
  transaction, each observer read once.

A failure is a `PreflightError` (exit 2) that names every unreachable thing and why.

SQLAlchemy and the observers are imported only when the scenario has databases or observers:
the coordinator forks its workers after the preflight, and a worker's first full garbage
collection walks every object it inherited (SQLAlchemy's alone lagged a worker's event loop
by tens of milliseconds, enough for the run to call its generator the bottleneck).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from loadlens.engine.limits import machine_problems
from loadlens.errors import EXIT_INVALID, LoadlensError, Problem
from loadlens.model.integrity import InvariantKind
from loadlens.model.observation import (
    ObserveSpec,
    fill_placeholders,
    placeholders_in,
    target_values,
)
from loadlens.model.redaction import Redactor
from loadlens.model.scenario import Location, Scenario

CONNECT_TIMEOUT_S = 5.0


class PreflightError(LoadlensError):
    """Something the run needs cannot be reached; nothing was sent."""

    exit_code = EXIT_INVALID

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = tuple(reasons)
        lines = "\n  ".join(reasons)
        super().__init__(
            f"preflight failed, nothing was sent:\n  {lines}",
            hint="fix these, or skip the checks with --no-preflight",
        )


@dataclass(frozen=True, slots=True)
class _Database:
    what: str  # `invariants[name]` or `reconcile`
    url: str  # as written, placeholders and all
    location: Location


def _databases(scenario: Scenario) -> Iterator[_Database]:
    for spec in scenario.invariant_specs:
        if spec.kind is not InvariantKind.HTTP:
            yield _Database(f"invariant `{spec.name}`", spec.db, spec.location)
    reconcile = scenario.ledger.reconcile if scenario.ledger is not None else None
    if reconcile is not None:
        yield _Database("reconcile", reconcile.db, reconcile.location)


def _values(scenario: Scenario, variables: Mapping[str, str]) -> dict[str, str]:
    return {**target_values(scenario.target), **variables}


def offline_problems(
    scenario: Scenario, workers: int, variables: Mapping[str, str] | None = None
) -> list[Problem]:
    """Problems found without the network: machine limits, database URLs and drivers.

    A URL with a placeholder that no variable fills is left to `reach` (the demo fills its
    own); one that is filled is checked as it will be used.
    """
    problems = machine_problems(scenario, workers)
    values = _values(scenario, variables or {})
    for database in _databases(scenario):
        if any(name not in values for name in placeholders_in(database.url)):
            continue
        from loadlens.checks.sql import url_problem

        reason = url_problem(fill_placeholders(database.url, values))
        if reason is not None:
            at = database.location
            file = at.file or scenario.source
            problems.append(Problem(file, at.line, at.column, database.what, reason))
    return problems


def reach(
    scenario: Scenario, variables: Mapping[str, str] | None = None, redactor: Redactor | None = None
) -> None:
    """Connect to everything the run needs, once; raise PreflightError naming what failed."""
    redactor = redactor or Redactor.of(tuple(scenario.secrets))
    values = _values(scenario, variables or {})
    reasons = [f"target {scenario.target}: {reason}" for reason in _connect(scenario.target)]
    for database in _databases(scenario):
        missing = [name for name in placeholders_in(database.url) if name not in values]
        if missing:
            reasons.append(
                f"{database.what}: no value for `{{{{ {missing[0]} }}}}` in its `db` "
                f"(pass --var {missing[0]}=URL)"
            )
            continue
        from loadlens.checks.sql import SqlError, masked_url, probe, url_problem

        url = fill_placeholders(database.url, values)
        reason = url_problem(url)
        if reason is None:
            try:
                probe(url, redactor)
            except SqlError as error:
                reason = str(error)
        if reason is not None:
            shown = redactor.text(masked_url(url))
            reasons.append(f"{database.what}: database {shown}: {redactor.text(reason)}")
    if scenario.observe is not None:
        reasons.extend(_observer_problems(scenario.observe, values, redactor))
    if reasons:
        raise PreflightError(reasons)


def _observer_problems(
    observe: ObserveSpec, values: dict[str, str], redactor: Redactor
) -> list[str]:
    from loadlens.observe.session import build_source
    from loadlens.observe.source import SourceError

    reasons: list[str] = []
    for spec in observe.sources:
        source = build_source(spec, values, CONNECT_TIMEOUT_S)
        try:
            source.read(0.0)
        except SourceError as error:
            reasons.append(f"observer {source.description}: {redactor.text(error.reason)}")
    return reasons


def _connect(target: str) -> list[str]:
    """Why a TCP connection to the target's host and port cannot be opened (empty if it can)."""
    parts = urlsplit(target)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return [f"cannot resolve `{host}`: {error.strerror}"]
    failures: list[str] = []
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(CONNECT_TIMEOUT_S)
                sock.connect(address)
                return []
        except OSError as error:
            failures.append(
                f"cannot connect to {address[0]} port {port}: {error.strerror or error}"
            )
    return failures[:1] or [f"`{host}` resolves to no address"]
