"""Flows compiled once at load into steps the runner executes without re-deciding anything."""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loadlens.engine.features import Held
from loadlens.engine.prepared import PreparedRequest, prepare
from loadlens.http import Origin
from loadlens.http.upload import Upload
from loadlens.model.integrity import LedgerRule
from loadlens.model.outcome import OK_KEYS, STATUS_KEYS
from loadlens.model.redaction import Redactor, secret_variables
from loadlens.model.scenario import (
    Capture,
    Check,
    CheckKind,
    ExtractorKind,
    Flow,
    GroupStep,
    RequestStep,
    Scenario,
    Step,
    ThinkStep,
)
from loadlens.model.template import VarRef


@dataclass(frozen=True, slots=True)
class CompiledCapture:
    """A capture with its regex compiled."""

    capture: Capture
    pattern: re.Pattern[str] | None
    key: str  # the variable, or `pool.NAME`
    step: str  # the operation that captures, named in "missing variable" outcomes


@dataclass(frozen=True, slots=True)
class CompiledCheck:
    """A check with its regex compiled (none today: checks use JSONPath or text)."""

    check: Check
    outcome: str  # `check_failed:NAME`


# A request on its way: (the encoded bytes, the variables it used, the entities it holds in
# flight, its feature tuple, the body streamed after the bytes if any); see `StepRunner.begin`.
Outgoing = tuple[bytes, dict[VarRef, object] | None, list[Held], tuple[str, ...], Upload | None]


class HeadMemo:
    """The last first read of a step's responses that a search of its head found nothing in.

    A response's search (`Set-Cookie`, `Content-Encoding`) runs on its first read, the bytes
    that hold its heads; a later response whose first read is the same bytes holds the field
    no more than this one did, so one comparison stands for the search. Exact whatever the
    server sends: bytes that differ in any way (a `Date` of another second, a request id, a
    `Set-Cookie` from a login) are searched. One memo per step and per search, so that the
    responses of the steps of a flow, interleaved by many users, do not evict each other.
    """

    __slots__ = ("searched",)

    def __init__(self) -> None:
        self.searched = b""  # never a first read: a response has a status line at least


@dataclass(frozen=True, slots=True)
class CompiledRequest:
    """A request step as the runner needs it."""

    prepared: PreparedRequest
    statuses: frozenset[int] | None  # None: 2xx and 3xx
    checks: tuple[CompiledCheck, ...]
    captures: tuple[CompiledCapture, ...]
    repeat: int
    needs_json: bool  # parse the body as JSON once, for captures or checks
    ledger: tuple[LedgerRule, ...] = ()  # acknowledged writes this operation makes
    # The outcome each status gets from the status alone (`ok:N` or `status:N`), built once
    # so that a response is judged by one dict lookup; see `status_outcome` for the others.
    by_status: dict[int, str] = field(default_factory=dict, compare=False)
    judged_by_status: bool = False  # no capture and no check: the status decides the outcome
    outgoing: Outgoing | None = None  # the same for every send when nothing is templated
    cookies: bool = True  # keep the cookies responses set and send the user's cookies
    redirects: int = 0  # redirects followed before the response is judged
    decode: bool = False  # a compressed body is decoded before checks and captures read it
    # First reads without `Set-Cookie` / `Content-Encoding`, mutable by the runner (HeadMemo).
    no_cookie: HeadMemo = field(default_factory=HeadMemo, compare=False, repr=False)
    no_coding: HeadMemo = field(default_factory=HeadMemo, compare=False, repr=False)

    def __post_init__(self) -> None:
        for status in range(100, 600):
            self.by_status[status] = self.status_outcome(status)
        object.__setattr__(self, "judged_by_status", not self.captures and not self.checks)
        if self.prepared.static is not None:
            features = self.prepared.features.static
            static: Outgoing = (self.prepared.static, None, [], features, None)
            object.__setattr__(self, "outgoing", static)

    def status_outcome(self, status: int) -> str:
        """`ok:N` when the step expects the status (2xx and 3xx by default), else `status:N`."""
        accepted = 200 <= status < 400 if self.statuses is None else status in self.statuses
        if accepted:
            return OK_KEYS.get(status) or f"ok:{status}"
        return STATUS_KEYS.get(status) or f"status:{status}"


@dataclass(frozen=True, slots=True)
class CompiledThink:
    """A pause in seconds."""

    low: float
    high: float


@dataclass(frozen=True, slots=True)
class CompiledGroup:
    """Steps repeated as a block."""

    steps: tuple[CompiledStep, ...]
    repeat: int


CompiledStep = CompiledRequest | CompiledThink | CompiledGroup


@dataclass(frozen=True, slots=True)
class CompiledScenario:
    """The scenario ready to run: operations indexed, flows compiled, weights cumulated."""

    scenario: Scenario
    operations: tuple[str, ...]
    flows: tuple[tuple[CompiledStep, ...], ...]
    flow_names: tuple[str, ...]
    cumulative_weights: tuple[float, ...]
    setup: tuple[CompiledStep, ...]
    teardown: tuple[CompiledStep, ...]
    # The flows made only of requests sent once, by id(), with their requests: when every flow
    # is plain, users are callback-driven (`loadlens.engine.drivers`).
    plain: dict[int, tuple[CompiledRequest, ...]] = field(default_factory=dict)

    @property
    def all_plain(self) -> bool:
        """Every flow is plain: its users can be driven by callbacks (`engine.drivers`)."""
        return len(self.plain) == len(self.flows)

    def pick_flow(self, draw: float) -> tuple[CompiledStep, ...]:
        """The flow for a uniform draw in [0, 1)."""
        total = self.cumulative_weights[-1]
        return self.flows[bisect.bisect_right(self.cumulative_weights, draw * total)]


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """Compile every flow, setup and teardown of a validated scenario."""
    target = Origin.parse(scenario.target)
    operations: dict[str, int] = {}
    redactor = Redactor.of(scenario.secrets, secret_variables(scenario))

    def compile_steps(steps: tuple[Step, ...], flow: str = "") -> tuple[CompiledStep, ...]:
        out: list[CompiledStep] = []
        for step in steps:
            if isinstance(step, RequestStep):
                index = operations.setdefault(step.request.name, len(operations))
                out.append(_compile_request(step, index, target, scenario, redactor, flow))
            elif isinstance(step, ThinkStep):
                out.append(CompiledThink(step.low, step.high))
            elif isinstance(step, GroupStep):
                out.append(CompiledGroup(compile_steps(step.steps, flow), step.repeat))
        return tuple(out)

    setup = compile_steps(scenario.setup)
    flows = tuple(compile_steps(flow.steps, flow.name) for flow in scenario.flows)
    teardown = compile_steps(scenario.teardown)
    return CompiledScenario(
        scenario=scenario,
        operations=tuple(operations),
        flows=flows,
        flow_names=tuple(flow.name for flow in scenario.flows),
        cumulative_weights=_cumulative(scenario.flows),
        setup=setup,
        teardown=teardown,
        plain={id(flow): requests for flow in flows if (requests := _plain(flow)) is not None},
    )


def _plain(flow: tuple[CompiledStep, ...]) -> tuple[CompiledRequest, ...] | None:
    """The flow's requests if it is nothing but requests sent once, else None."""
    requests = tuple(
        step for step in flow if isinstance(step, CompiledRequest) and step.repeat == 1
    )
    return requests if len(requests) == len(flow) else None


def _cumulative(flows: tuple[Flow, ...]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(flow.weight for flow in flows))


def _compile_request(
    step: RequestStep,
    operation: int,
    target: Origin,
    scenario: Scenario,
    redactor: Redactor,
    flow: str = "",
) -> CompiledRequest:
    captures = tuple(
        CompiledCapture(
            capture=capture,
            pattern=re.compile(capture.extractor.expression)
            if capture.extractor.kind is ExtractorKind.REGEX
            else None,
            key=f"pool.{capture.variable}" if capture.into_pool else capture.variable,
            step=step.request.name,
        )
        for capture in step.captures
    )
    checks = tuple(
        CompiledCheck(check=check, outcome=f"check_failed:{check.name}")
        for check in step.expect.checks
    )
    needs_json = any(c.capture.extractor.kind is ExtractorKind.JSONPATH for c in captures) or any(
        c.check.extractor is not None and c.check.extractor.kind is ExtractorKind.JSONPATH
        for c in checks
    )
    return CompiledRequest(
        prepared=prepare(
            step.request,
            operation,
            target,
            scenario.headers,
            redactor,
            scenario.max_body,
            flow,
            base_path=urlsplit(scenario.target).path,
            compression=scenario.compression,
        ),
        statuses=step.expect.statuses,
        checks=checks,
        captures=captures,
        repeat=step.repeat,
        needs_json=needs_json,
        ledger=tuple(
            rule
            for rule in (scenario.ledger.rules if scenario.ledger is not None else ())
            if rule.operation == step.request.name
        ),
        cookies=scenario.cookies,
        redirects=scenario.redirects if step.request.redirects is None else step.request.redirects,
        decode=scenario.compression,
    )


def check_passes(check: Check, found: bool, value: object, text: str) -> bool:
    """Whether a check holds, given what its extractor found and the body text."""
    if check.kind is CheckKind.EXISTS:
        return found == (check.value is not False)
    if check.kind is CheckKind.EQUALS:
        return found and (value == check.value or str(value) == str(check.value))
    haystack = text if check.extractor is None else (str(value) if found else "")
    return str(check.value) in haystack
