"""The whole scenario: top-level keys, feeders, variables, flows, and the order they are read in.

Order matters for variable scope: `vars:` first, then `setup:` (its captures reach every
flow), then each flow with its own copy of that scope, then `teardown:`. Default headers are
read last, against every variable any step defines, since they are sent with every request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from loadlens.errors import Problem, SpecError
from loadlens.model.scenario import (
    DEFAULT_MAX_BODY,
    DEFAULT_REDIRECTS,
    Feeder,
    FeederOrder,
    Flow,
    Scenario,
    Step,
    Timeouts,
)
from loadlens.model.template import Template
from loadlens.model.threshold import Threshold
from loadlens.spec.context import Context, Scope
from loadlens.spec.feeders import FeederFileError, read_csv, read_json
from loadlens.spec.nodes import Node, to_plain
from loadlens.spec.reader import Reader, did_you_mean, join
from loadlens.spec.sizes import read_size
from loadlens.spec.templates import BUILTINS
from loadlens.spec.urls import url_problem
from loadlens.spec.validate_gates import GateCatalog, read_gates
from loadlens.spec.validate_generator import read_generator
from loadlens.spec.validate_http import (
    HTTP_DEFAULT_KEYS,
    HTTP_TOP_KEYS,
    auth_secrets,
    read_auth,
    read_max_streams,
    read_redirects,
    read_switch,
)
from loadlens.spec.validate_invariants import read_invariants, read_ledger
from loadlens.spec.validate_observe import read_observe
from loadlens.spec.validate_plan import read_plan
from loadlens.spec.validate_request import read_pairs, read_timeouts
from loadlens.spec.validate_steps import read_steps

TOP_KEYS = (
    "name",
    "target",
    "defaults",
    "vars",
    "data",
    "setup",
    "teardown",
    "flows",
    "steps",
    "plan",
    "thresholds",
    "observe",
    "invariants",
    "ledger",
    "reconcile",
    "generator",
    *HTTP_TOP_KEYS,
)
_DEFAULTS_KEYS = ("headers", "timeout", "max_body", *HTTP_DEFAULT_KEYS)
_FLOW_KEYS = ("name", "weight", "steps")
_FEEDER_KEYS = ("csv", "json", "order")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build_scenario(
    root: Node,
    reader: Reader,
    *,
    base_dir: Path,
    secrets: frozenset[str],
    target_override: str | None = None,
) -> Scenario:
    """The validated Scenario, or SpecError listing every problem."""
    reader.report_load_problems(root)
    fields = reader.mapping(root, "", TOP_KEYS, required=("name", "plan"), what="a scenario")
    if fields is None:
        raise SpecError(reader.problems)
    ctx = Context(reader, base_dir=base_dir)
    name = reader.string(fields["name"], "name") if "name" in fields else None
    target = _target(reader, root, fields, target_override)
    defaults = fields.get("defaults")
    default_fields = reader.mapping(defaults, "defaults", _DEFAULTS_KEYS) if defaults else {}
    timeouts = Timeouts()
    if default_fields and "timeout" in default_fields:
        timeouts = read_timeouts(reader, default_fields["timeout"], "defaults.timeout", timeouts)
    max_body = DEFAULT_MAX_BODY
    if default_fields and "max_body" in default_fields:
        max_body = read_size(reader, default_fields["max_body"], "defaults.max_body") or 0
    feeders = _feeders(ctx, fields["data"], base_dir) if "data" in fields else ()
    scope = Scope()
    variables = _variables(ctx, fields["vars"], scope) if "vars" in fields else ()
    setup = read_steps(ctx, fields["setup"], "setup", scope, timeouts) if "setup" in fields else ()
    every = scope.copy()
    flows = _flows(ctx, root, fields, scope=scope, timeouts=timeouts, every=every)
    teardown: tuple[Step, ...] = ()
    if "teardown" in fields:
        teardown = read_steps(ctx, fields["teardown"], "teardown", scope.copy(), timeouts)
    headers: tuple[tuple[str, Template], ...] = ()
    if default_fields and "headers" in default_fields:
        headers = read_pairs(ctx, default_fields["headers"], "defaults.headers", every, lower=True)
    http = _http_behaviour(ctx, fields, default_fields or {}, every)
    if http.auth is not None:
        headers = _default_auth(reader, default_fields or {}, headers, http.auth)
    observe = to_plain(fields["observe"]) if "observe" in fields else None
    catalog = GateCatalog.of(flows, observe)
    plan = read_plan(reader, fields["plan"], "plan", catalog) if "plan" in fields else ()
    thresholds: tuple[Threshold, ...] = ()
    if "thresholds" in fields:
        thresholds = read_gates(reader, fields["thresholds"], "thresholds", catalog)
    invariants: tuple[object, ...] = ()
    if "invariants" in fields:
        raw = to_plain(fields["invariants"])
        invariants = tuple(raw) if isinstance(raw, list) else (raw,)
    observed = read_observe(reader, fields["observe"]) if "observe" in fields else None
    checks = read_invariants(reader, fields["invariants"]) if "invariants" in fields else ()
    ledger = read_ledger(reader, fields.get("ledger"), fields.get("reconcile"))
    generator = read_generator(reader, fields.get("generator"))
    ctx.check_pools()
    if reader.problems or name is None or target is None:
        raise SpecError(_ordered(reader.problems))
    return Scenario(
        name=name,
        target=target,
        flows=flows,
        plan=plan,
        headers=headers,
        max_body=max_body,
        redirects=http.redirects,
        cookies=http.cookies,
        compression=http.compression,
        http2=http.http2,
        max_streams=http.max_streams,
        feeders=feeders,
        setup=setup,
        teardown=teardown,
        variables=variables,
        secrets=secrets | auth_secrets(headers, [*setup, *teardown, *_steps_of(flows)]),
        thresholds=thresholds,
        invariants=invariants,
        observe=observed,
        invariant_specs=checks,
        ledger=ledger,
        generator=generator,
        source=reader.file,
    )


@dataclass(frozen=True, slots=True)
class _HttpBehaviour:
    cookies: bool
    compression: bool
    http2: bool
    max_streams: int
    redirects: int
    auth: Template | None


def _http_behaviour(
    ctx: Context, fields: dict[str, Node], defaults: dict[str, Node], every: Scope
) -> _HttpBehaviour:
    """`cookies:`, `compression:`, `http2:`, `max_streams:`, `defaults.redirects` and
    `defaults.auth`."""
    reader = ctx.reader
    redirects: int | None = DEFAULT_REDIRECTS
    if "redirects" in defaults:
        redirects = read_redirects(reader, defaults["redirects"], "defaults.redirects")
    auth = None
    if "auth" in defaults:
        auth = read_auth(ctx, defaults["auth"], "defaults.auth", every)
    http2 = "http2" in fields and reader.boolean(fields["http2"], "http2") is True
    return _HttpBehaviour(
        cookies=read_switch(reader, fields, "cookies"),
        compression=read_switch(reader, fields, "compression"),
        http2=http2,
        max_streams=read_max_streams(reader, fields, http2),
        redirects=DEFAULT_REDIRECTS if redirects is None else redirects,
        auth=auth,
    )


def _default_auth(
    reader: Reader,
    defaults: dict[str, Node],
    headers: tuple[tuple[str, Template], ...],
    auth: Template,
) -> tuple[tuple[str, Template], ...]:
    if any(name == "authorization" for name, _ in headers):
        reader.report(
            defaults["auth"], "defaults.auth", "`auth` and an `authorization` header are both given"
        )
        return headers
    return (*headers, ("authorization", auth))


def _steps_of(flows: tuple[Flow, ...]) -> list[Step]:
    return [step for flow in flows for step in flow.steps]


def _ordered(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column))


def check_target(text: str) -> str | None:
    """Why `text` is not a usable target, or None."""
    problem = url_problem(text, what="target URL")
    if problem is not None:
        return problem
    parts = urlsplit(text)
    if parts.query or parts.fragment:
        return f"bad target URL `{text}`: no query or fragment (a path is the base path)"
    return None


def _target(
    reader: Reader, root: Node, fields: dict[str, Node], override: str | None
) -> str | None:
    if override is not None:
        problem = check_target(override)
        if problem:
            reader.problems.append(Problem(reader.file, 0, 0, "--target", problem))
            return None
        return override
    if "target" not in fields:
        reader.report(root, "target", "missing required key `target`", "or give --target URL")
        return None
    text = reader.string(fields["target"], "target")
    if text is None:
        return None
    problem = check_target(text)
    if problem:
        reader.report(fields["target"], "target", problem)
        return None
    return text


def _feeders(ctx: Context, node: Node, base_dir: Path) -> tuple[Feeder, ...]:
    reader = ctx.reader
    if not isinstance(node.value, dict):
        reader.report(node, "data", "expected a mapping of feeder names to files")
        return ()
    feeders: list[Feeder] = []
    for name, child in node.value.items():
        key = join("data", name)
        if _NAME.fullmatch(name) is None or name == "pool" or name in BUILTINS:
            reader.report(child, key, f"`{name}` cannot name a feeder", at_key=True)
            continue
        ctx.feeders[name] = None
        feeder = _feeder(reader, child, key, name, base_dir)
        if feeder is not None:
            ctx.feeders[name] = feeder.columns
            feeders.append(feeder)
    return tuple(feeders)


def _feeder(reader: Reader, node: Node, key: str, name: str, base_dir: Path) -> Feeder | None:
    fields = reader.mapping(node, key, _FEEDER_KEYS, what="`{csv: FILE}` or `{json: FILE}`")
    if fields is None:
        return None
    kinds = [kind for kind in ("csv", "json") if kind in fields]
    if len(kinds) != 1:
        reader.report(node, key, "a feeder needs exactly one of `csv` or `json`")
        return None
    order = FeederOrder.SEQUENTIAL
    if "order" in fields:
        text = reader.string(fields["order"], join(key, "order"))
        choices = [o.value for o in FeederOrder]
        if text is not None and text not in choices:
            hint = did_you_mean(text, choices) or f"one of {', '.join(choices)}"
            reader.report(fields["order"], join(key, "order"), f"unknown order `{text}`", hint)
            return None
        order = FeederOrder(text) if text else order
    path_node = fields[kinds[0]]
    path = reader.string(path_node, join(key, kinds[0]))
    if path is None:
        return None
    try:
        read = read_csv if kinds[0] == "csv" else read_json
        columns, rows = read(base_dir / path)
    except FeederFileError as error:
        reader.report(path_node, join(key, kinds[0]), str(error))
        return None
    return Feeder(name, path, columns, rows, order, location=reader.location(node))


def _variables(ctx: Context, node: Node, scope: Scope) -> tuple[tuple[str, Template], ...]:
    if not isinstance(node.value, dict):
        ctx.reader.report(node, "vars", "expected a mapping of variable names to values")
        return ()
    variables: list[tuple[str, Template]] = []
    for name, child in node.value.items():
        key = join("vars", name)
        if _NAME.fullmatch(name) is None:
            ctx.reader.report(child, key, f"`{name}` is not a variable name", at_key=True)
            continue
        template = ctx.template(child, key, scope)
        scope.define(name)
        if template is not None:
            variables.append((name, template))
    return tuple(variables)


def _flows(
    ctx: Context,
    root: Node,
    fields: dict[str, Node],
    *,
    scope: Scope,
    timeouts: Timeouts,
    every: Scope,
) -> tuple[Flow, ...]:
    reader = ctx.reader
    if "steps" in fields:
        if "flows" in fields:
            reader.report(
                fields["steps"], "steps", "give `flows:` or `steps:`, not both", at_key=True
            )
        flow_scope = scope.copy()
        only = read_steps(ctx, fields["steps"], "steps", flow_scope, timeouts)
        every.include(flow_scope)
        return (Flow("default", only, location=reader.location(fields["steps"])),)
    if "flows" not in fields:
        reader.report(root, "flows", "no flows: give `flows:` (or `steps:` for a single flow)")
        return ()
    items = reader.sequence(fields["flows"], "flows") or []
    if not items and isinstance(fields["flows"].value, list):
        reader.report(fields["flows"], "flows", "no flows: give at least one")
    flows: list[Flow] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        key = join("flows", index)
        flow_fields = reader.mapping(item, key, _FLOW_KEYS, required=("name", "steps"))
        if flow_fields is None:
            continue
        flow_scope = scope.copy()
        name = (
            reader.string(flow_fields["name"], join(key, "name")) if "name" in flow_fields else None
        )
        weight = 1.0
        if "weight" in flow_fields:
            read = reader.number(flow_fields["weight"], join(key, "weight"))
            weight = read if read is not None else -1.0  # reported: kept out of the sum's check
            if read is not None and weight < 0:
                reader.report(
                    flow_fields["weight"], join(key, "weight"), "a weight cannot be negative"
                )
        steps: tuple[Step, ...] = ()
        if "steps" in flow_fields:
            steps = read_steps(ctx, flow_fields["steps"], join(key, "steps"), flow_scope, timeouts)
        every.include(flow_scope)
        if name is not None and name in names:
            reader.report(flow_fields["name"], join(key, "name"), f"duplicate flow `{name}`")
        elif name is not None:
            names.add(name)
            flows.append(Flow(name, steps, weight, location=reader.location(item)))
    if flows and all(flow.weight >= 0 for flow in flows) and sum(f.weight for f in flows) <= 0:
        reader.report(
            fields["flows"], "flows", "the flows' weights add up to 0", "give one a weight > 0"
        )
    return tuple(flows)
