"""The source tree every scenario is validated from: plain values with their positions.

YAML (through `yaml_nodes`) and the Python API (through `from_python`) both produce this tree,
so one validator, with one set of rules and messages, serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadlens.spec.env import EnvSubstitution

Scalar = str | int | float | bool | None


@dataclass(slots=True)
class Node:
    """A value and where it was written (1-based; 0 when unknown)."""

    value: Scalar | list[Node] | dict[str, Node]
    line: int
    column: int
    key_line: int = 0  # where this value's key was written, when it is a mapping value
    key_column: int = 0
    # problems found while reading the source: (line, column, message, hint)
    # (a tuple: most nodes have none, and an empty tuple costs nothing per node)
    problems: tuple[tuple[int, int, str, str], ...] = ()
    # False when no node below has problems (the YAML reader knows), so none is looked for
    problems_below: bool = True

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a Python-built value was written: the caller's file and line."""

    file: str
    line: int


class Located(dict[str, object]):
    """A mapping made by a builder function; it remembers the line that called it."""

    origin: Origin | None = None


def from_python(value: object, origin: Origin, env: EnvSubstitution) -> Node:
    """The tree of a Python value made of dicts, lists and scalars (builders' mappings)."""
    if isinstance(value, Located) and value.origin is not None:
        origin = value.origin
    line = origin.line
    if isinstance(value, dict):
        items: dict[str, Node] = {}
        for key, item in value.items():
            child = from_python(item, origin, env)
            child.key_line, child.key_column = line, 0
            items[str(key)] = child
        return Node(items, line, 0, line, 0)
    if isinstance(value, list | tuple):
        return Node([from_python(item, origin, env) for item in value], line, 0, line, 0)
    if isinstance(value, str):
        text, missing = env.substitute(value)
        node = Node(text, line, 0, line, 0)
        node.problems = tuple((line, 0, missing_env_message(name), "") for name in missing)
        return node
    if value is None or isinstance(value, bool | int | float):
        return Node(value, line, 0, line, 0)
    node = Node(None, line, 0, line, 0)
    node.problems = ((line, 0, f"unsupported value of type {type(value).__name__}", ""),)
    return node


def missing_env_message(name: str) -> str:
    """The message for an `${env:NAME}` whose variable is not set."""
    return f"environment variable `{name}` is not set (`${{env:{name}}}`)"


def located_problems(root: Node) -> list[tuple[str, int, int, str, str]]:
    """(key path, line, column, message, hint) of every problem recorded in the tree.

    Iterative, and a node's key path is spelled out only when it has problems: a scenario of
    300,000 flows has millions of nodes, and nearly none of them a problem to name.
    """
    found: list[tuple[str, int, int, str, str]] = []
    pending: list[tuple[Node, _Path]] = [(root, None)]
    while pending:
        node, path = pending.pop()
        if node.problems:
            text = _spell(path)
            found.extend((text, *problem) for problem in node.problems)
        value = node.value
        if not node.problems_below:
            continue
        if isinstance(value, dict):
            pending.extend((child, (path, key)) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((value[i], (path, i)) for i in range(len(value) - 1, -1, -1))
    return found


_Path = tuple["_Path", str | int] | None  # (parent's path, key or index), built as it goes


def _spell(path: _Path) -> str:
    parts: list[str | int] = []
    while path is not None:
        path, key = path
        parts.append(key)
    text = ""
    for key in reversed(parts):
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text = f"{text}.{key}" if text else key
    return text


def to_plain(node: Node) -> object:
    """The node's value without positions (for sections kept raw, like `invariants`)."""
    if isinstance(node.value, dict):
        return {key: to_plain(child) for key, child in node.value.items()}
    if isinstance(node.value, list):
        return [to_plain(child) for child in node.value]
    return node.value
