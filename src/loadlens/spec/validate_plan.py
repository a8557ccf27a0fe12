"""`plan:`: ordered stages, each a closed (`users`) or open (`rate`) load model.

A stage runs for a `duration`, or a number of iterations: `iterations` (shared by a closed
stage's users; an open stage's arrivals) or `per_user` (closed only), with `duration` then an
optional time limit (ITERATIONS_TIME_LIMIT when absent).
"""

from __future__ import annotations

from loadlens.model.plan import ITERATIONS_TIME_LIMIT, ClosedLoad, LoadModel, OpenLoad, Stage
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
    "iterations",
    "per_user",
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
    fields = reader.mapping(node, key, _STAGE_KEYS, required=("stage",))
    if fields is None:
        return None
    before = len(reader.problems)
    name = reader.string(fields["stage"], join(key, "stage")) if "stage" in fields else None
    load = _load(reader, node, fields, key)
    duration = None
    if "duration" in fields:
        duration = _duration(reader, fields["duration"], join(key, "duration"), positive=True)
    elif "iterations" in fields or "per_user" in fields:
        duration = ITERATIONS_TIME_LIMIT
    else:
        reader.report(
            node,
            join(key, "duration"),
            "missing required key `duration` (or `iterations` / `per_user` to run a count)",
        )
    ramp = _duration(reader, fields["ramp"], join(key, "ramp")) if "ramp" in fields else 0.0
    grace = _duration(reader, fields["grace"], join(key, "grace")) if "grace" in fields else 5.0
    gates: tuple[Threshold, ...] = ()
    if "gates" in fields:
        gates = read_gates(reader, fields["gates"], join(key, "gates"), catalog or GateCatalog())
    if isinstance(load, ClosedLoad) and "ramp" in fields and "users" in fields:
        for counted in ("iterations", "per_user"):
            if counted in fields:
                reader.report(
                    fields[counted],
                    join(key, counted),
                    f"`{counted}` runs a fixed set of users: it cannot be combined with `ramp`",
                    at_key=True,
                )
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
        iterations, per_user = _counts(reader, node, fields, key)
        if users is None:
            return None
        return ClosedLoad(users, start_users, iterations=iterations, per_user=per_user)
    rate = _rate(reader, fields["rate"], join(key, "rate"), positive=True)
    start_rate = None if start is None else _rate(reader, start, join(key, "from"))
    limit = 10_000
    if "max_in_flight" in fields:
        limit = reader.integer(fields["max_in_flight"], join(key, "max_in_flight"), minimum=1) or 0
    if "per_user" in fields:
        reader.report(
            fields["per_user"],
            join(key, "per_user"),
            "`per_user` is for `users` stages (an open stage's arrivals are all new users): "
            "use `iterations`",
            at_key=True,
        )
    iterations, _ = _counts(reader, node, fields, key)
    if rate is None:
        return None
    return OpenLoad(rate, start_rate, max_in_flight=limit, iterations=iterations)


def _counts(
    reader: Reader, node: Node, fields: dict[str, Node], key: str
) -> tuple[int | None, int | None]:
    """`iterations` and `per_user` (at most one of them), each a positive integer."""
    if "iterations" in fields and "per_user" in fields:
        reader.report(node, key, "a stage takes `iterations` or `per_user`, not both")
        return None, None
    iterations = per_user = None
    if "iterations" in fields:
        iterations = reader.integer(fields["iterations"], join(key, "iterations"), minimum=1)
    if "per_user" in fields:
        per_user = reader.integer(fields["per_user"], join(key, "per_user"), minimum=1)
    return iterations, per_user


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
