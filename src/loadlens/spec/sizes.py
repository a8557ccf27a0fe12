"""Sizes in bytes: `max_body: 4MiB`, `512KiB`, `10MB`, or a whole number of bytes."""

from __future__ import annotations

import re

from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?", re.IGNORECASE)
_UNIT_BYTES = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
# A body kept in memory beyond this is a mistake, not a plan: every user holds up to one.
MAX_SIZE = 1024**3
_EXPECTED = "expected a size like `4MiB`, `512KiB`, `10MB` or a number of bytes"


def read_size(reader: Reader, node: Node, key: str) -> int | None:
    """A size in bytes, 0 to 1 GiB; a problem (and None) otherwise."""
    value = node.value
    size: float
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.fullmatch(value.strip())) is not None:
        size = float(match.group(1)) * _UNIT_BYTES[(match.group(2) or "b").lower()]
    else:
        reader.report(node, key, f"`{value}` is not a size", _EXPECTED)
        return None
    if not 0 <= size <= MAX_SIZE:
        reader.report(node, key, f"must be between 0 and 1GiB, got {value}")
        return None
    return int(size)
