"""Steps: a request (with expect/capture/repeat), a think time, or a group of steps.

Steps are read in order with one Scope, so a capture defines its variable for the steps
after it (groups included) and a reference before any capture is reported.
"""

from __future__ import annotations

from loadlens.model.scenario import (
    Capture,
    Expectation,
    GroupStep,
    RequestStep,
    Step,
    ThinkStep,
    Timeouts,
)
from loadlens.spec.context import Context, Scope
from loadlens.spec.durations import QuantityError, parse_duration
from loadlens.spec.nodes import Node
from loadlens.spec.reader import join
from loadlens.spec.validate_request import read_request
from loadlens.spec.validate_response import read_captures, read_expectation

_KINDS = ("request", "think", "group")
_ALLOWED = {
    "request": ("request", "expect", "capture", "repeat"),
    "think": ("think",),
    "group": ("group", "steps", "repeat"),
}
_ANY_STEP_KEY = ("request", "think", "group", "expect", "capture", "repeat", "steps")


def read_steps(
    ctx: Context, node: Node, key: str, scope: Scope, defaults: Timeouts
) -> tuple[Step, ...]:
    """The steps of a list node, in order; `scope` gains each capture as it is read."""
    items = ctx.reader.sequence(node, key)
    if items is None:
        return ()
    if not items:
        ctx.reader.report(node, key, "expected at least one step")
    steps = [read_step(ctx, item, join(key, i), scope, defaults) for i, item in enumerate(items)]
    return tuple(step for step in steps if step is not None)


def read_step(ctx: Context, node: Node, key: str, scope: Scope, defaults: Timeouts) -> Step | None:
    """One step, or None when it has problems (all reported)."""
    reader = ctx.reader
    if not isinstance(node.value, dict):
        reader.report(node, key, "expected a step: a mapping with `request`, `think` or `group`")
        return None
    kinds = [name for name in _KINDS if name in node.value]
    if len(kinds) != 1:
        found = ", ".join(f"`{k}`" for k in kinds) if kinds else "none"
        # an unknown key may be a misspelt kind: let the key check suggest the right one
        allowed = _ALLOWED[kinds[0]] if kinds else _ANY_STEP_KEY
        before = len(reader.problems)
        reader.mapping(node, key, allowed)
        if kinds or len(reader.problems) == before:
            message = f"a step needs exactly one of `request`, `think`, `group` ({found})"
            reader.report(node, key, message)
        return None
    kind = kinds[0]
    fields = reader.mapping(node, key, _ALLOWED[kind]) or {}
    before = len(reader.problems)
    repeat = 1
    if "repeat" in fields:
        repeat = reader.integer(fields["repeat"], join(key, "repeat"), minimum=1) or 1
    location = reader.location(node)
    if kind == "think":
        low_high = _think(ctx, fields["think"], join(key, "think"))
        if low_high is None:
            return None
        return ThinkStep(low_high[0], low_high[1], location=location)
    if kind == "group":
        name = reader.string(fields["group"], join(key, "group"))
        if "steps" not in fields:
            reader.report(node, join(key, "steps"), "missing required key `steps`")
            return None
        steps = read_steps(ctx, fields["steps"], join(key, "steps"), scope, defaults)
        if name is None or len(reader.problems) > before:
            return None
        return GroupStep(name, steps, repeat=repeat, location=location)
    request = read_request(ctx, fields["request"], join(key, "request"), scope, defaults)
    expect = Expectation()
    if "expect" in fields:
        expect = read_expectation(reader, fields["expect"], join(key, "expect"))
    captures: tuple[Capture, ...] = ()
    if "capture" in fields:
        captures = read_captures(ctx, fields["capture"], join(key, "capture"), scope)
    if request is None or len(reader.problems) > before:
        return None
    return RequestStep(request, expect, captures, repeat=repeat, location=location)


def _think(ctx: Context, node: Node, key: str) -> tuple[float, float] | None:
    """`200ms` (fixed) or `[100ms, 500ms]` (uniform range), in seconds."""
    items = node.value if isinstance(node.value, list) else [node, node]
    if len(items) != 2:
        ctx.reader.report(node, key, "expected a duration or a range `[low, high]`")
        return None
    bounds: list[float] = []
    for index, item in enumerate(items):
        where = join(key, index) if isinstance(node.value, list) else key
        try:
            seconds = parse_duration(item.value)
        except QuantityError as error:
            ctx.reader.report(item, where, str(error))
            return None
        if seconds < 0:
            ctx.reader.report(item, where, f"a think time cannot be negative, got {item.value}")
            return None
        bounds.append(seconds)
    if bounds[0] > bounds[1]:
        ctx.reader.report(
            node, key, f"the range's low {items[0].value} is above its high {items[1].value}"
        )
        return None
    return bounds[0], bounds[1]
