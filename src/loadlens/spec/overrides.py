"""Command-line overrides of a scenario: `-u/-r/-d [--stage NAME]`, `-e NAME=VALUE`, `--var`.

How it works: the loader applies an `Overrides` at three points, so a scenario changed from
the command line is validated exactly as one written that way.

- `environ()`: the mapping `${env:NAME}` reads, `-e` values first, then the process
  environment. The values go through the same substitution (and the same secrets rule) as any
  environment value.
- `declare_variables(root)`: before validation, each `--var NAME` is put in the scenario's
  `vars:` (first, so the scenario's own `vars:` may use it; replacing a `vars:` entry of the
  same name), so request templates may refer to `{{ NAME }}`.
- `apply(scenario)`: after validation, the `--var` values become literal variables (never
  parsed as templates) and the stages get their overridden users, rate or duration.

Which stages a load override changes: with `--stage NAME`, only that stage; without it, `-u`
sets every closed (users) stage, `-r` every open (rate) stage and `-d` every stage. A load
model is never converted: `-u` on an open stage named by `--stage` (or on a plan without a
closed stage) is an error, as is `-r` on a closed one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from loadlens.errors import UsageError
from loadlens.model.plan import ClosedLoad, OpenLoad, Stage
from loadlens.model.scenario import Scenario
from loadlens.model.template import Template
from loadlens.spec.durations import QuantityError, parse_duration, parse_rate
from loadlens.spec.nodes import Node
from loadlens.spec.reader import did_you_mean

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # as `vars:` names are


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the command line changes in a scenario (everything optional)."""

    users: int | None = None
    rate: float | None = None
    duration: float | None = None  # seconds of hold
    stage: str | None = None  # the one stage the load overrides apply to; None: every stage
    env: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def changes_load(self) -> bool:
        """Whether a stage's users, rate or duration is overridden."""
        return (self.users, self.rate, self.duration) != (None, None, None)

    def environ(self, base: Mapping[str, str]) -> Mapping[str, str]:
        """What `${env:NAME}` reads: `-e` values over `base` (the process environment)."""
        return {**base, **self.env} if self.env else base

    def declare_variables(self, root: Node) -> None:
        """Put each `--var` name in the tree's `vars:` (before the scenario's own), so that
        validation sees it in scope; its value is set by `apply`."""
        if not self.variables or not isinstance(root.value, dict):
            return
        existing = root.value.get("vars")
        own = existing.value if existing is not None and isinstance(existing.value, dict) else {}
        # An empty literal stands in for the value: validated as a template, it cannot fail.
        declared = {name: Node("", 0, 0) for name in self.variables}
        declared.update((name, node) for name, node in own.items() if name not in declared)
        if existing is not None and isinstance(existing.value, dict):
            existing.value = declared
        elif existing is None:
            root.value["vars"] = Node(declared, 0, 0)

    def apply(self, scenario: Scenario) -> Scenario:
        """The validated scenario with the variables' values and the stages' load changed."""
        if self.variables:
            given = {name: Template.literal(value) for name, value in self.variables.items()}
            kept = tuple((n, t) for n, t in scenario.variables if n not in given)
            scenario = dataclasses.replace(scenario, variables=(*given.items(), *kept))
        if self.stage is not None or self.changes_load:
            scenario = dataclasses.replace(scenario, plan=self._plan(scenario))
        return scenario

    def _plan(self, scenario: Scenario) -> tuple[Stage, ...]:
        names = [stage.name for stage in scenario.plan]
        if self.stage is not None and self.stage not in names:
            hint = did_you_mean(self.stage, names) or f"stages: {', '.join(names)}"
            raise UsageError(f"--stage {self.stage}: no such stage in the plan", hint=hint)
        if self.stage is not None and not self.changes_load:
            raise UsageError("--stage NAME picks the stage that -u, -r or -d change; give one")
        chosen = [s for s in scenario.plan if self.stage in (None, s.name)]
        self._check_kinds(chosen)
        return tuple(self._stage(s) if s in chosen else s for s in scenario.plan)

    def _check_kinds(self, chosen: list[Stage]) -> None:
        for option, wanted, kind, other in (
            ("-u/--users", self.users, ClosedLoad, "-r/--rate"),
            ("-r/--rate", self.rate, OpenLoad, "-u/--users"),
        ):
            if wanted is None or any(isinstance(s.load, kind) for s in chosen):
                continue
            model = "closed (users)" if kind is ClosedLoad else "open (rate)"
            if self.stage is None:
                message = f"{option} changes {model} stages, and the plan has none"
            else:
                message = f"{option} changes {model} stages, and stage `{self.stage}` is not one"
            raise UsageError(message, hint=f"{other} changes the other kind of stage")

    def _stage(self, stage: Stage) -> Stage:
        load = stage.load
        if self.users is not None and isinstance(load, ClosedLoad):
            load = dataclasses.replace(load, users=self.users)
        if self.rate is not None and isinstance(load, OpenLoad):
            load = dataclasses.replace(load, rate=self.rate)
        duration = self.duration if self.duration is not None else stage.duration
        return dataclasses.replace(stage, load=load, duration=duration)


def parse_overrides(
    *,
    users: int | None = None,
    rate: str | None = None,
    duration: str | None = None,
    stage: str | None = None,
    env: tuple[str, ...] = (),
    variables: tuple[str, ...] = (),
) -> Overrides:
    """The overrides given as command-line text; UsageError names the option that is wrong."""
    if users is not None and users < 1:
        raise UsageError(f"-u/--users must be at least 1, not {users}")
    seconds = None
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except QuantityError as error:
            raise UsageError(f"-d/--duration: {error}") from None
        if seconds <= 0:
            raise UsageError(f"-d/--duration must be a positive duration, not {duration}")
    per_second = None
    if rate is not None:
        try:
            per_second = parse_rate(rate)
        except QuantityError as error:
            raise UsageError(f"-r/--rate: {error}") from None
        if per_second <= 0:
            raise UsageError(f"-r/--rate must be a positive rate, not {rate}")
    return Overrides(
        users=users,
        rate=per_second,
        duration=seconds,
        stage=stage,
        env=parse_assignments(env, "-e/--env"),
        variables=parse_assignments(variables, "--var"),
    )


def parse_assignments(assignments: tuple[str, ...], option: str) -> dict[str, str]:
    """`NAME=VALUE` pairs of an option given several times (the last of a name wins)."""
    values: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name.strip():
            raise UsageError(f"{option} takes NAME=VALUE, not `{assignment}`")
        if option == "--var" and _NAME.fullmatch(name.strip()) is None:
            raise UsageError(f"--var {assignment}: `{name.strip()}` is not a variable name")
        values[name.strip()] = value
    return values
