"""YAML text → the positioned source tree, without ever constructing arbitrary objects.

`yaml.compose` with the SafeLoader gives nodes with marks; scalars are resolved to their
YAML types (int, float, bool, null, str) by the same loader, so `30` is an int and `30s`
a string. A plain (unquoted) scalar that was an `${env:NAME}` is resolved again after the
substitution, so `users: ${env:USERS}` yields an int.
"""

from __future__ import annotations

import datetime

import yaml

from loadlens.errors import Problem
from loadlens.spec.env import EnvSubstitution
from loadlens.spec.nodes import Node, Scalar, missing_env_message


class YamlSyntaxError(Exception):
    """Text that is not YAML; carries the one problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def compose_yaml(text: str, file: str, env: EnvSubstitution) -> Node | None:
    """The tree of `text`, None for an empty document; raises YamlSyntaxError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = error.problem or error.context or "invalid YAML"
        raise YamlSyntaxError(Problem(file, line, column, "", f"invalid YAML: {message}")) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(Problem(file, 1, 1, "", f"invalid YAML: {error}")) from None
    if root is None:
        return None
    return _Converter(env).convert(root)


class _Converter:
    def __init__(self, env: EnvSubstitution) -> None:
        self.env = env
        self.loader = yaml.SafeLoader("")

    def convert(self, node: yaml.Node) -> Node:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, line, column)
        if isinstance(node, yaml.SequenceNode):
            return Node([self.convert(item) for item in node.value], line, column)
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, line, column)

    def _mapping(self, node: yaml.MappingNode, line: int, column: int) -> Node:
        result = Node({}, line, column)
        items: dict[str, Node] = {}
        for key_node, value_node in node.value:
            child = self.convert(value_node)
            child.key_line = key_node.start_mark.line + 1
            child.key_column = key_node.start_mark.column + 1
            where = (child.key_line, child.key_column)
            if not isinstance(key_node, yaml.ScalarNode):
                result.problems.append((*where, "a key must be a plain name", ""))
                continue
            key = str(key_node.value)
            if key in items:
                result.problems.append((*where, f"duplicate key `{key}`", "each key once"))
                continue
            items[key] = child
        result.value = items
        return result

    def _scalar(self, node: yaml.ScalarNode, line: int, column: int) -> Node:
        problems: list[tuple[int, int, str, str]] = []
        if node.tag == "tag:yaml.org,2002:str" and "${env:" in node.value:
            text, missing = self.env.substitute(node.value)
            problems.extend((line, column, missing_env_message(name), "") for name in missing)
            if node.style is None and not missing:
                tag = self.loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
                node = yaml.ScalarNode(tag, text, node.start_mark, node.end_mark)
            else:
                node = yaml.ScalarNode(node.tag, text, node.start_mark, node.end_mark, node.style)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            problems.append((line, column, f"cannot read this value: {error}", ""))
            value = node.value
        result = Node(_scalar_value(value, node.value), line, column)
        result.problems.extend(problems)
        return result


def _scalar_value(value: object, text: str) -> Scalar:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime.date):
        return text  # a date-like string stays the text it was written as
    return text
