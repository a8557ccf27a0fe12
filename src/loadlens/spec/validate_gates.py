"""Gates (`plan[i].gates`, `thresholds:`): parsed, and their filters resolved to operations.

A filter names operations the way the scenario does: `op:` an operation (a request's name),
`flow:` every operation of a flow, `tag:` every operation a request with that tag sends.
Filters of one key are a union (`{op:a,op:b}`), of different keys an intersection. The
resolved set is stored on the Threshold, so the evaluator needs only operation names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from loadlens.errors import SpecError
from loadlens.model.scenario import Flow, GroupStep, RequestStep, Scenario, Step
from loadlens.model.threshold import (
    KNOWN_METRICS,
    Metric,
    Threshold,
    ThresholdSyntaxError,
    parse_threshold,
)
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, did_you_mean, join

_GENERATOR_WIDE = (Metric.DROPPED, Metric.LATE, Metric.OBSERVED)


@dataclass(slots=True)
class GateCatalog:
    """What gates may name: operations, flows, tags, checks and observed service metrics."""

    operations: dict[str, None] = field(default_factory=dict)  # an ordered set: scenario order
    flows: dict[str, set[str]] = field(default_factory=dict)
    tags: dict[str, set[str]] = field(default_factory=dict)
    checks: dict[str, set[str]] = field(default_factory=dict)
    observed: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, flows: Iterable[Flow], observe: object = None) -> GateCatalog:
        """The catalog of the flows' requests and the metrics `observe:` declares."""
        catalog = cls(observed=_observed_names(observe))
        for flow in flows:
            catalog.flows[flow.name] = set()
            catalog._add_steps(flow.name, flow.steps)
        return catalog

    def _add_steps(self, flow: str, steps: Iterable[Step]) -> None:
        for step in steps:
            if isinstance(step, GroupStep):
                self._add_steps(flow, step.steps)
            elif isinstance(step, RequestStep):
                name = step.request.name
                self.operations[name] = None
                self.flows[flow].add(name)
                for tag in step.request.tags:
                    self.tags.setdefault(tag, set()).add(name)
                for check in step.expect.checks:
                    self.checks.setdefault(check.name, set()).add(name)


def _observed_names(observe: object) -> set[str]:
    """Metric names declared under `observe:`: each source's `metrics` (a process source's
    `PREFIX_cpu_percent` and the like) and the `derived` ones."""
    names: set[str] = set()
    items: object = observe
    if isinstance(observe, dict):
        items = observe.get("sources", [])
        derived = observe.get("derived")
        if isinstance(derived, dict):
            names.update(str(name) for name in derived)
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        metrics = item.get("metrics")
        if isinstance(metrics, dict):
            names.update(str(name) for name in metrics)
        if "process" in item:
            prefix = str(item.get("name") or "process")
            names.update(f"{prefix}_{what}" for what in _PROCESS_METRICS)
    return names


_PROCESS_METRICS = ("cpu_percent", "rss_bytes", "threads", "open_files", "connections")


def read_gates(reader: Reader, node: Node, key: str, catalog: GateCatalog) -> tuple[Threshold, ...]:
    """The gates of a list node, each parsed and resolved; every problem is reported."""
    items = reader.sequence(node, key)
    if items is None:
        return ()
    gates: list[Threshold] = []
    for index, item in enumerate(items):
        gate = read_gate(reader, item, join(key, index), catalog)
        if gate is not None:
            gates.append(gate)
    return tuple(gates)


def read_gate(reader: Reader, node: Node, key: str, catalog: GateCatalog) -> Threshold | None:
    """One gate, or None when it has problems (all reported)."""
    text = reader.string(node, key)
    if text is None:
        return None
    try:
        gate = parse_threshold(text)
    except ThresholdSyntaxError as error:
        reader.report(node, key, f"{error.message} (column {error.column} of `{text}`)", error.hint)
        return None
    if gate.metric is Metric.OBSERVED and gate.selector not in catalog.observed:
        known = [*KNOWN_METRICS, *catalog.observed]
        hint = did_you_mean(gate.selector, known) or (
            "declare a service metric under `observe:` to gate on it"
        )
        reader.report(node, key, f"unknown metric `{gate.selector}`", hint)
        return None
    if gate.filters and gate.metric in _GENERATOR_WIDE:
        what = "the generator" if gate.metric is not Metric.OBSERVED else "the service"
        reader.report(node, key, f"`{gate.name}` is measured for {what}, not per operation")
        return None
    before = len(reader.problems)
    operations = _resolve(reader, node, key, gate, catalog)
    if len(reader.problems) > before:
        return None
    return dataclasses.replace(gate, operations=operations)


def _resolve(
    reader: Reader, node: Node, key: str, gate: Threshold, catalog: GateCatalog
) -> frozenset[str] | None:
    """The operations the filters (and a `rate(check=...)`) select; None for all of them."""
    by_key: dict[str, set[str]] = {}
    for name, value in gate.filters:
        selected = _select(reader, node, key, name, value, catalog)
        by_key.setdefault(name, set()).update(selected or ())
    if gate.metric is Metric.RATE and gate.selector.startswith("check="):
        check = gate.selector.removeprefix("check=")
        if check not in catalog.checks:
            hint = did_you_mean(check, catalog.checks) or "name a check under some `expect.checks`"
            reader.report(node, key, f"no request has a check named `{check}`", hint)
            return None
        by_key["check"] = catalog.checks[check]
    if not by_key:
        return None
    sets = list(by_key.values())
    operations = set.intersection(*sets)
    if not operations and all(by_key.values()):
        reader.report(node, key, "the filters select no operation together")
    return frozenset(operations)


def _select(
    reader: Reader, node: Node, key: str, name: str, value: str, catalog: GateCatalog
) -> set[str] | None:
    if name == "op":
        if value in catalog.operations:
            return {value}
        choices: Iterable[str] = catalog.operations
        what = "operation"
    elif name == "flow":
        if value in catalog.flows:
            return catalog.flows[value]
        choices, what = catalog.flows, "flow"
    else:
        if value in catalog.tags:
            return catalog.tags[value]
        choices, what = catalog.tags, "tag"
    hint = did_you_mean(value, choices)
    if hint is None and what == "tag":
        hint = "tag requests with `tags: [NAME]`"
    reader.report(node, key, f"no {what} named `{value}`", hint)
    return None


def gates_for(scenario: Scenario, texts: Iterable[str], *, origin: str) -> tuple[Threshold, ...]:
    """Gates written outside the scenario (e.g. `--slo`), resolved against its operations.

    Raises SpecError listing every problem, located at `origin` (the option's name).
    """
    reader = Reader(origin)
    catalog = GateCatalog.of(scenario.flows)
    node = Node([Node(text, 0, 0) for text in texts], 0, 0)
    gates = read_gates(reader, node, origin, catalog)
    if reader.problems:
        raise SpecError(reader.problems)
    return gates
