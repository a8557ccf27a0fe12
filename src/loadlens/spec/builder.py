"""The Python API: functions that write the same scenario as YAML, validated the same way.

Each function returns the plain mapping the YAML would hold (remembering the line that called
it, for problems); `scenario(...)` runs the one validator over the whole tree and returns the
frozen Scenario, equal (`==`) to the one loaded from the same scenario in YAML.

    from loadlens.scenario import scenario, flow, request, think, stage
    scenario = scenario("users", target="http://127.0.0.1:8000",
        flows=[flow("read", steps=[request("GET", "/users"), think("200ms")])],
        plan=[stage("smoke", users=5, duration="30s")])
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loadlens.model.scenario import Scenario
from loadlens.spec.loader import build_from_mapping
from loadlens.spec.nodes import Located, Origin

Duration = str | float
_UNSET: object = object()


def _located(values: Mapping[str, object], depth: int = 2) -> Located:
    """A mapping of the given values (None left out) that remembers the line `depth` frames up
    (2: the caller of the builder function that calls this)."""
    mapping = Located({key: value for key, value in values.items() if value is not None})
    frame = sys._getframe(depth)
    mapping.origin = Origin(frame.f_code.co_filename, frame.f_lineno)
    return mapping


def feeder(*, csv: str | None = None, json: str | None = None, order: str | None = None) -> Located:
    """A data feeder: `{csv: FILE}` or `{json: FILE}`, with an optional order."""
    return _located({"csv": csv, "json": json, "order": order})


def request(
    method: str,
    url: str,
    *,
    name: str | None = None,
    json: object = _UNSET,
    form: Mapping[str, object] | None = None,
    body: str | None = None,
    content_type: str | None = None,
    headers: Mapping[str, object] | None = None,
    query: Mapping[str, object] | None = None,
    timeout: Duration | Mapping[str, Duration] | None = None,
    expect: int | Sequence[int] | Mapping[str, object] | None = None,
    capture: Mapping[str, object] | None = None,
    repeat: int | None = None,
    tags: Sequence[str] | None = None,
    max_body: int | str | None = None,
) -> Located:
    """A request step; `expect` is a status, a list of statuses, or `{status, checks}`."""
    fields: dict[str, object] = {
        "name": name,
        "method": method,
        "url": url,
        "form": form,
        "body": body,
        "content_type": content_type,
        "headers": headers,
        "query": query,
        "timeout": timeout,
        "tags": list(tags) if tags is not None else None,
        "max_body": max_body,
    }
    request_mapping = _located(fields)
    if json is not _UNSET:
        request_mapping["json"] = json
    step = {"request": request_mapping, "expect": expect, "capture": capture, "repeat": repeat}
    return _located(step)


def think(low: Duration, high: Duration | None = None) -> Located:
    """A pause: fixed, or uniform in [low, high]."""
    return _located({"think": low if high is None else [low, high]})


def group(name: str, steps: Sequence[object], *, repeat: int | None = None) -> Located:
    """Named steps run in order, `repeat` times."""
    return _located({"group": name, "steps": list(steps), "repeat": repeat})


def flow(name: str, steps: Sequence[object], *, weight: float | None = None) -> Located:
    """A flow: the steps one user runs per iteration, chosen by weight."""
    return _located({"name": name, "weight": weight, "steps": list(steps)})


def stage(
    name: str,
    *,
    duration: Duration | None = None,
    users: int | None = None,
    rate: str | float | None = None,
    from_: int | str | float | None = None,
    ramp: Duration | None = None,
    max_in_flight: int | None = None,
    iterations: int | None = None,
    per_user: int | None = None,
    grace: Duration | None = None,
    gates: Sequence[str] | None = None,
) -> Located:
    """A stage of the plan: `users` (closed) or `rate` (open); `from_` is YAML's `from`; a
    `duration`, or `iterations` / `per_user` (with `duration` as a time limit)."""
    fields: dict[str, object] = {
        "stage": name,
        "users": users,
        "rate": rate,
        "from": from_,
        "ramp": ramp,
        "duration": duration,
        "max_in_flight": max_in_flight,
        "iterations": iterations,
        "per_user": per_user,
        "grace": grace,
        "gates": list(gates) if gates is not None else None,
    }
    return _located(fields)


@dataclass(frozen=True, slots=True)
class ScenarioDraft:
    """A scenario not yet validated; `loadlens run --target` can still supply its target."""

    tree: Located
    base_dir: Path

    def build(self, *, target_override: str | None = None) -> Scenario:
        """The validated Scenario; raises SpecError listing every problem."""
        origin = self.tree.origin or Origin("<python>", 0)
        return build_from_mapping(
            self.tree, origin=origin, base_dir=self.base_dir, target_override=target_override
        )


def draft(
    name: str,
    *,
    target: str | None = None,
    headers: Mapping[str, object] | None = None,
    timeout: Duration | Mapping[str, Duration] | None = None,
    max_body: int | str | None = None,
    vars: Mapping[str, object] | None = None,
    data: Mapping[str, object] | None = None,
    setup: Sequence[object] | None = None,
    teardown: Sequence[object] | None = None,
    flows: Sequence[object] | None = None,
    steps: Sequence[object] | None = None,
    plan: Sequence[object] | None = None,
    thresholds: Sequence[str] | None = None,
    observe: object = None,
    invariants: object = None,
    base_dir: str | Path | None = None,
    _depth: int = 2,
) -> ScenarioDraft:
    """A scenario to validate later (with `.build()`), e.g. when the target comes from the CLI."""
    defaults = None
    if headers is not None or timeout is not None or max_body is not None:
        given = (("headers", headers), ("timeout", timeout), ("max_body", max_body))
        defaults = {key: v for key, v in given if v is not None}
    fields: dict[str, object] = {
        "name": name,
        "target": target,
        "defaults": defaults,
        "vars": vars,
        "data": data,
        "setup": _list(setup),
        "teardown": _list(teardown),
        "flows": _list(flows),
        "steps": _list(steps),
        "plan": _list(plan),
        "thresholds": _list(thresholds),
        "observe": observe,
        "invariants": invariants,
    }
    tree = _located(fields, depth=_depth)
    assert tree.origin is not None
    folder = Path(base_dir) if base_dir is not None else Path(tree.origin.file).parent
    return ScenarioDraft(tree, folder)


def scenario(
    name: str,
    *,
    target: str | None = None,
    headers: Mapping[str, object] | None = None,
    timeout: Duration | Mapping[str, Duration] | None = None,
    max_body: int | str | None = None,
    vars: Mapping[str, object] | None = None,
    data: Mapping[str, object] | None = None,
    setup: Sequence[object] | None = None,
    teardown: Sequence[object] | None = None,
    flows: Sequence[object] | None = None,
    steps: Sequence[object] | None = None,
    plan: Sequence[object] | None = None,
    thresholds: Sequence[str] | None = None,
    observe: object = None,
    invariants: object = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """The validated Scenario; raises SpecError listing every problem."""
    return draft(
        name,
        target=target,
        headers=headers,
        timeout=timeout,
        max_body=max_body,
        vars=vars,
        data=data,
        setup=setup,
        teardown=teardown,
        flows=flows,
        steps=steps,
        plan=plan,
        thresholds=thresholds,
        observe=observe,
        invariants=invariants,
        base_dir=base_dir,
        _depth=3,
    ).build()


def _list(items: Sequence[object] | None) -> list[object] | None:
    return None if items is None else list(items)
