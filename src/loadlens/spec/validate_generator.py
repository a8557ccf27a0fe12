"""`generator:` → GeneratorLimits: when a worker counts as saturated, and which lag bounds the
latencies (docs/scenario-format.md, docs/thresholds.md "The generator's error bound").

    generator:
      max_cpu: 90%            # a worker second at or above this CPU is saturated
      saturated_seconds: 20%  # failing throughput gates are uncertain past this share
      lag_bound: max          # max or p99 of each second's event-loop lag probes
"""

from __future__ import annotations

from loadlens.model.generator import GeneratorLimits, LagBound
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, join

KEYS = ("max_cpu", "saturated_seconds", "lag_bound")


def read_generator(reader: Reader, node: Node | None, key: str = "generator") -> GeneratorLimits:
    """The scenario's generator limits; the defaults when the block is absent or invalid."""
    defaults = GeneratorLimits()
    if node is None:
        return defaults
    fields = reader.mapping(node, key, KEYS, what="a mapping of generator limits")
    if fields is None:
        return defaults
    max_cpu = defaults.max_cpu_percent
    if "max_cpu" in fields:
        share = _percent(reader, fields["max_cpu"], join(key, "max_cpu"), high=100.0)
        max_cpu = max_cpu if share is None else share
    saturated = defaults.saturated_seconds
    if "saturated_seconds" in fields:
        share = _percent(reader, fields["saturated_seconds"], join(key, "saturated_seconds"))
        saturated = saturated if share is None else share / 100
    bound = defaults.lag_bound
    if "lag_bound" in fields:
        text = reader.string(fields["lag_bound"], join(key, "lag_bound"))
        choices = [b.value for b in LagBound]
        if text is not None and text not in choices:
            reader.report(
                fields["lag_bound"],
                join(key, "lag_bound"),
                f"expected one of {', '.join(f'`{c}`' for c in choices)}, got `{text}`",
            )
        elif text is not None:
            bound = LagBound(text)
    return GeneratorLimits(max_cpu_percent=max_cpu, saturated_seconds=saturated, lag_bound=bound)


def _percent(reader: Reader, node: Node, key: str, high: float = 100.0) -> float | None:
    """A percentage written `90%` (or a bare number of percent) between 0 and `high`."""
    value = node.value
    text = value.strip() if isinstance(value, str) else None
    number: float | None = None
    if text is not None and text.endswith("%"):
        try:
            number = float(text[:-1])
        except ValueError:
            number = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None or not 0 < number <= high:
        reader.report(
            node, key, f"expected a percentage above 0% and at most {high:g}%, like `90%`"
        )
        return None
    return number
