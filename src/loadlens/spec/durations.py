"""Durations (`200ms`, `30s`, `1m30s`, or seconds) and rates (`100/s`, `600/m`, or per second)."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(s|m|h)")
_RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class QuantityError(ValueError):
    """A duration or rate that cannot be read; the message says what is expected."""


def parse_duration(value: object) -> float:
    """Seconds; negative values are returned as such so callers can say why they are wrong."""
    if isinstance(value, bool):
        raise QuantityError("expected a duration like `200ms`, `30s`, `2m`, `1m30s`")
    if isinstance(value, int | float):
        return _finite(value)
    if not isinstance(value, str):
        raise QuantityError("expected a duration like `200ms`, `30s`, `2m`, `1m30s`")
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("-").strip()
    position, total = 0, 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        if _is_number(text):
            return sign * float(text)
        raise QuantityError(
            f"`{value}` is not a duration (expected e.g. `200ms`, `30s`, `2m`, `1h`, `1m30s`)"
        )
    return sign * total


def parse_rate(value: object) -> float:
    """Iterations per second; `100/s`, `600/m`, `10/h` or a number (per second)."""
    if isinstance(value, bool):
        raise QuantityError("expected a rate like `100/s`, `600/m` or `10/h`")
    if isinstance(value, int | float):
        return _finite(value)
    if not isinstance(value, str):
        raise QuantityError("expected a rate like `100/s`, `600/m` or `10/h`")
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("-").strip()
    match = _RATE.fullmatch(text)
    if match is not None:
        return sign * float(match.group(1)) / _RATE_UNITS[match.group(2)]
    if _is_number(text):
        return sign * float(text)
    raise QuantityError(f"`{value}` is not a rate (expected e.g. `100/s`, `600/m`, `10/h`)")


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?", text) is not None


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise QuantityError(f"expected a finite number, got {value}")
    return float(value)
