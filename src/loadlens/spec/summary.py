"""Facts about a validated scenario, for `loadlens validate` and reports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from loadlens.model.scenario import GroupStep, Request, RequestStep, Scenario, Step


def requests(steps: Iterable[Step]) -> Iterator[Request]:
    """Every request in `steps`, groups included, in order."""
    for step in steps:
        if isinstance(step, RequestStep):
            yield step.request
        elif isinstance(step, GroupStep):
            yield from requests(step.steps)


def operation_names(scenario: Scenario) -> list[str]:
    """The distinct operation names of setup, flows and teardown, in first-seen order."""
    names: dict[str, None] = {}
    for flow_steps in (scenario.setup, *(f.steps for f in scenario.flows), scenario.teardown):
        for request in requests(flow_steps):
            names.setdefault(request.name)
    return list(names)


def count_operations(scenario: Scenario) -> int:
    """How many distinct operations the scenario has."""
    return len(operation_names(scenario))
