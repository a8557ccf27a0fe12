"""Typed reads from the source tree that report, rather than raise, what is wrong.

Each read returns the value or None; a None means a problem was recorded (or the key was
absent and optional), so validation goes on and every problem is listed at once.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable

from loadlens.errors import Problem
from loadlens.model.scenario import Location
from loadlens.spec.nodes import Node, located_problems


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """`did you mean `X`?` for the closest choice, or None."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def join(path: str, key: str | int) -> str:
    """The key path of a child: `flows[0].steps`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _kind(node: Node) -> str:
    value = node.value
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string"


class Reader:
    """Collects problems for one source file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def report(
        self, node: Node, key: str, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> None:
        """Record a problem at the node (or at its key)."""
        line, column = (node.key_line, node.key_column) if at_key else (node.line, node.column)
        self.problems.append(Problem(self.file, line, column, key, message, hint or None))

    def report_load_problems(self, root: Node) -> None:
        """Record what was found wrong while reading the source (duplicate keys, unset env)."""
        for path, line, column, message, hint in located_problems(root):
            self.problems.append(Problem(self.file, line, column, path, message, hint or None))

    def location(self, node: Node) -> Location:
        """The model's Location of a node."""
        return Location(self.file, node.line, node.column)

    def mapping(
        self,
        node: Node,
        key: str,
        allowed: Iterable[str],
        required: Iterable[str] = (),
        what: str = "",
    ) -> dict[str, Node] | None:
        """The node's mapping; unknown keys and missing required keys are problems."""
        if not isinstance(node.value, dict):
            self.report(node, key, f"expected {what or 'a mapping'}, got {_kind(node)}")
            return None
        allowed = tuple(allowed)
        unknown = False
        for name, child in node.value.items():
            if name not in allowed:
                unknown = True
                hint = did_you_mean(name, allowed) or f"allowed: {', '.join(allowed)}"
                self.report(child, join(key, name), f"unknown key `{name}`", hint, at_key=True)
        for name in required:
            if name not in node.value:
                self.report(node, join(key, name), f"missing required key `{name}`")
        if not unknown:
            return node.value  # every key allowed: the node's own mapping (read, never changed)
        return {name: child for name, child in node.value.items() if name in allowed}

    def sequence(self, node: Node, key: str) -> list[Node] | None:
        """The node's list."""
        if not isinstance(node.value, list):
            self.report(node, key, f"expected a list, got {_kind(node)}")
            return None
        return node.value

    def string(self, node: Node, key: str) -> str | None:
        """A string (a number is taken as its text, for headers, vars and names)."""
        value = node.value
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        self.report(node, key, f"expected a string, got {_kind(node)}")
        return None

    def integer(self, node: Node, key: str, minimum: int | None = None) -> int | None:
        """An int, at least `minimum`."""
        value = node.value
        if not isinstance(value, int) or isinstance(value, bool):
            self.report(node, key, f"expected a whole number, got {_kind(node)}")
            return None
        if minimum is not None and value < minimum:
            self.report(node, key, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(self, node: Node, key: str) -> float | None:
        """An int or float, finite (`.nan` and `.inf` are YAML floats no setting means)."""
        value = node.value
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.report(node, key, f"expected a number, got {_kind(node)}")
            return None
        if not math.isfinite(value):
            self.report(node, key, f"expected a finite number, got {value}")
            return None
        return float(value)

    def boolean(self, node: Node, key: str) -> bool | None:
        """true or false."""
        if not isinstance(node.value, bool):
            self.report(node, key, f"expected true or false, got {_kind(node)}")
            return None
        return node.value

    def strings(self, node: Node, key: str) -> tuple[str, ...]:
        """A list of strings (gates, thresholds)."""
        items = self.sequence(node, key)
        if items is None:
            return ()
        texts = (self.string(item, join(key, i)) for i, item in enumerate(items))
        return tuple(text for text in texts if text is not None)
