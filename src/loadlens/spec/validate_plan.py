"""`plan:`: ordered stages, each a closed (`users`) or open (`rate`) load model."""

from __future__ import annotations

from loadlens.model.plan import ClosedLoad, LoadModel, OpenLoad, Stage
from loadlens.model.threshold import Threshold
from loadlens.spec.durations import QuantityError, parse_duration, parse_rate
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, join
from loadlens.spec.validate_gates import GateCatalog, read_gates

_STAGE_KEYS = (
    "stage",
    "users",
    "rate",
    "from",
    "ramp",
    "duration",
    "max_in_flight",
    "grace",
    "gates",
)


def read_plan(
    reader: Reader, node: Node, key: str, catalog: GateCatalog | None = None
) -> tuple[Stage, ...]:
    """The stages, in order; an empty plan and duplicate names are problems."""
    catalog = catalog or GateCatalog()
    items = reader.sequence(node, key)
    if items is None:
        return ()
    if not items:
        reader.report(node, key, "the plan needs at least one stage")
    stages: list[Stage] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        stage = read_stage(reader, item, join(key, index), catalog)
        if stage is None:
            continue
        if stage.name in seen:
            name_node = item.value["stage"] if isinstance(item.value, dict) else item
            reader.report(
                name_node, join(join(key, index), "stage"), f"duplicate stage `{stage.name}`"
            )
            continue
        seen.add(stage.name)
        stages.append(stage)
    return tuple(stages)


def read_stage(
    reader: Reader, node: Node, key: str, catalog: GateCatalog | None = None
) -> Stage | None:
    """One stage, or None when it has problems (all reported)."""
    fields = reader.mapping(node, key, _STAGE_KEYS, required=("stage", "duration"))
    if fields is None:
        return None
    before = len(reader.problems)
    name = reader.string(fields["stage"], join(key, "stage")) if "stage" in fields else None
    load = _load(reader, node, fields, key)
    duration = None
    if "duration" in fields:
        duration = _duration(reader, fields["duration"], join(key, "duration"), positive=True)
    ramp = _duration(reader, fields["ramp"], join(key, "ramp")) if "ramp" in fields else 0.0
    grace = _duration(reader, fields["grace"], join(key, "grace")) if "grace" in fields else 5.0
    gates: tuple[Threshold, ...] = ()
    if "gates" in fields:
        gates = read_gates(reader, fields["gates"], join(key, "gates"), catalog or GateCatalog())
    if len(reader.problems) > before or None in (name, load, duration, ramp, grace):
        return None
    assert name is not None and load is not None and duration is not None
    assert ramp is not None and grace is not None
    return Stage(name, load, duration, ramp=ramp, grace=grace, gates=gates, line=node.line)


def _load(reader: Reader, node: Node, fields: dict[str, Node], key: str) -> LoadModel | None:
    if ("users" in fields) == ("rate" in fields):
        reader.report(node, key, "a stage needs exactly one of `users` (closed) or `rate` (open)")
        return None
    start = fields.get("from")
    if "users" in fields:
        if "max_in_flight" in fields:
            reader.report(
                fields["max_in_flight"],
                join(key, "max_in_flight"),
                "`max_in_flight` is for `rate` stages",
                at_key=True,
            )
        users = reader.integer(fields["users"], join(key, "users"), minimum=1)
        start_users = None
        if start is not None:
            start_users = reader.integer(start, join(key, "from"), minimum=0)
        return None if users is None else ClosedLoad(users, start_users)
    rate = _rate(reader, fields["rate"], join(key, "rate"), positive=True)
    start_rate = None if start is None else _rate(reader, start, join(key, "from"))
    limit = 10_000
    if "max_in_flight" in fields:
        limit = reader.integer(fields["max_in_flight"], join(key, "max_in_flight"), minimum=1) or 0
    return None if rate is None else OpenLoad(rate, start_rate, max_in_flight=limit)


def _duration(reader: Reader, node: Node, key: str, *, positive: bool = False) -> float | None:
    try:
        seconds = parse_duration(node.value)
    except QuantityError as error:
        reader.report(node, key, str(error))
        return None
    if seconds < 0 or (positive and seconds == 0):
        need = "positive" if positive else "zero or positive"
        reader.report(node, key, f"must be a {need} duration, got {node.value}")
        return None
    return seconds


def _rate(reader: Reader, node: Node, key: str, *, positive: bool = False) -> float | None:
    try:
        rate = parse_rate(node.value)
    except QuantityError as error:
        reader.report(node, key, str(error))
        return None
    if rate < 0 or (positive and rate == 0):
        reader.report(node, key, f"must be a {'positive' if positive else 'non-negative'} rate")
        return None
    return rate
