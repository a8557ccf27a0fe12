"""A JSON endpoint: named numbers picked by JSONPath, or every number in the body."""

from __future__ import annotations

from loadlens.model.observation import JsonMetric
from loadlens.observe.fetch import get_json
from loadlens.observe.source import SourceError

MAX_LEAVES = 200  # a body with more numbers than this is cut, so a series count stays bounded


class JsonSource:
    """Reads one JSON endpoint."""

    def __init__(self, url: str, metrics: tuple[JsonMetric, ...], timeout: float) -> None:
        self.url = url
        self.metrics = metrics
        self.timeout = timeout
        self.description = f"json {url}"
        self.names: list[str] = [metric.name for metric in metrics]

    def read(self, now: float) -> dict[str, float]:
        """Every value of this sample; raises SourceError when none can be had."""
        document = get_json(self.url, self.timeout)
        if not self.metrics:
            leaves = _leaves(document, "", {})
            self.names.extend(name for name in leaves if name not in self.names)
            return leaves
        values: dict[str, float] = {}
        missing: list[str] = []
        for metric in self.metrics:
            found, value = metric.path.first(document)
            number = _number(value) if found else None
            if number is None:
                missing.append(f"{metric.name} ({metric.path.text}: {_what(found, value)})")
            else:
                values[metric.name] = number
        if missing and not values:
            raise SourceError(f"no number in {self.url} at " + ", ".join(missing))
        if missing:
            raise SourceError(f"no number in {self.url} at " + ", ".join(missing), partial=values)
        return values


def _what(found: bool, value: object) -> str:
    if not found:
        return "missing"
    return f"not a number: {value!r}"[:80]


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _leaves(document: object, prefix: str, into: dict[str, float]) -> dict[str, float]:
    if len(into) >= MAX_LEAVES:
        return into
    if isinstance(document, dict):
        for key, value in document.items():
            _leaves(value, f"{prefix}.{key}" if prefix else str(key), into)
    elif not isinstance(document, list | str) and document is not None:
        number = _number(document)
        if number is not None and prefix:
            into[prefix] = number
    return into
