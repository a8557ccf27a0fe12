"""YAML text → the positioned source tree, without ever constructing arbitrary objects.

How it works: the text is parsed into YAML events (by libyaml when PyYAML has it, else by
PyYAML's own parser) and this module composes the tree from them itself, with an explicit
stack instead of recursion, so that hostile input meets a clear problem instead of a crash:

- nesting deeper than `MAX_DEPTH` stops at the line where it goes too deep (no recursion, so
  no RecursionError however deep the text nests);
- an alias does not copy its anchor's values: it shares them, and every alias adds its
  anchor's expanded size to a running total; past `MAX_ALIAS_VALUES` the text is refused
  at the alias (the "billion laughs" bomb is caught after a few aliases, in bounded memory);
- an alias to a collection that is still open (a recursive structure) is refused.

Scalars are resolved to their YAML types (int, float, bool, null, str) by the SafeLoader's
resolver and constructors, so `30` is an int and `30s` a string. A plain (unquoted) scalar
that was an `${env:NAME}` is resolved again after the substitution, so `users: ${env:USERS}`
yields an int. The cyclic garbage collector is paused while the tree is built and validated
(`collector_paused`).
"""

from __future__ import annotations

import datetime
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import yaml

from loadlens.errors import Problem
from loadlens.spec.env import EnvSubstitution
from loadlens.spec.nodes import Node, Scalar, missing_env_message

MAX_DEPTH = 100  # a scenario nests about 10 deep; JSON bodies a few more
MAX_ALIAS_VALUES = 100_000  # values that aliases may add: far above any real reuse
FREEZE_AFTER_OBJECTS = 1_000_000  # about 50,000 requests' worth of tree (collector_paused)
_STR = "tag:yaml.org,2002:str"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(Exception):
    """Text that is not YAML (or not a YAML we read); carries the one problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a scenario's tree is built and validated.

    A large scenario makes millions of objects, none of them cyclic garbage, and every
    collection pass walks them all again: for 300,000 flows that more than doubled the time.
    When the pause made more than `FREEZE_AFTER_OBJECTS` objects, they are frozen (moved out
    of the collector's reach, `gc.freeze`) before it resumes: the first collections after it
    would otherwise walk them all, once per generation (~3 s of 13 for 300,000 flows), for a
    tree that lives as long as the run. A smaller scenario is left to the collector as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > FREEZE_AFTER_OBJECTS:
                gc.freeze()
            gc.enable()


def compose_yaml(text: str, file: str, env: EnvSubstitution) -> Node | None:
    """The tree of `text`, None for an empty document; raises YamlSyntaxError."""
    try:
        with collector_paused():
            loader = _Loader(text)
            try:
                return _Composer(file, env).compose(loader)
            finally:
                loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = error.problem or error.context or "invalid YAML"
        raise YamlSyntaxError(Problem(file, line, column, "", f"invalid YAML: {message}")) from None
    except yaml.reader.ReaderError as error:  # a character YAML does not allow
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        character = error.character if isinstance(error.character, str) else "\x00"
        message = f"invalid YAML: character #x{ord(character):04x} is not allowed ({error.reason})"
        raise YamlSyntaxError(Problem(file, line, column, "", message)) from None
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())  # one line, whatever the error's layout
        raise YamlSyntaxError(Problem(file, 1, 1, "", f"invalid YAML: {message}")) from None


@dataclass(slots=True)
class _Open:
    """A collection whose end event has not come yet."""

    node: Node
    anchor: str | None
    is_mapping: bool
    size: int = 1  # values in it once every alias is expanded, itself included
    key: str | None = None  # in a mapping: the key read, waiting for its value
    key_at: tuple[int, int] = (0, 0)
    key_is_plain: bool = True
    awaiting_value: bool = False
    problems: list[tuple[int, int, str, str]] | None = None  # made at the first one
    problems_below: bool = False


@dataclass(frozen=True, slots=True)
class _Anchored:
    node: Node
    size: int
    text: str | None  # a scalar's source text (a key written as an alias uses it)


class _Composer:
    def __init__(self, file: str, env: EnvSubstitution) -> None:
        self.file = file
        self.env = env
        self.loader = yaml.SafeLoader("")
        self.anchors: dict[str, _Anchored] = {}
        self.open_anchors: set[str] = set()
        self.alias_values = 0
        self.stack: list[_Open] = []
        self.root: Node | None = None
        self.documents = 0
        # plain scalar text -> its value: keys and common values repeat thousands of times
        self.plain: dict[str, Scalar] = {}

    def compose(self, loader: yaml.SafeLoader) -> Node | None:
        # One loop over the events with the common cases written in line (a plain scalar
        # seen before, a mapping's key, a collection's end): a large scenario has millions of
        # events, and a method call per event was half of the time spent here.
        get_event = loader.get_event
        stack = self.stack
        plain = self.plain
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        while True:
            event = get_event()  # type: ignore[no-untyped-call]
            kind = type(event)
            if kind is scalar_event:
                parent = stack[-1] if stack else None
                if (
                    parent is not None
                    and parent.is_mapping
                    and not parent.awaiting_value
                    and event.anchor is None
                ):
                    # A key: only its text and position are kept (a key with problems of
                    # its own, an unset `${env:...}`, is taken as written, as before).
                    mark = event.start_mark
                    parent.size += 1
                    parent.awaiting_value = True
                    parent.key = event.value
                    parent.key_is_plain = True
                    parent.key_at = (mark.line + 1, mark.column + 1)
                    continue
                text = event.value
                if (
                    text in plain
                    and event.tag is None
                    and event.implicit[0]
                    and event.anchor is None
                ):
                    mark = event.start_mark
                    node = Node(plain[text], mark.line + 1, mark.column + 1, 0, 0, (), False)
                else:
                    node = self._scalar(event)
                    if event.anchor is not None:
                        self.anchors[event.anchor] = _Anchored(node, 1, text)
                if parent is None or (parent.is_mapping and not parent.awaiting_value):
                    self._add(node, 1, text)  # the root, or an anchored key
                elif not parent.is_mapping:
                    parent.size += 1
                    if node.problems:
                        parent.problems_below = True
                    parent.node.value.append(node)  # type: ignore[union-attr]
                else:  # a mapping's value
                    parent.size += 1
                    if node.problems:
                        parent.problems_below = True
                    self._place(parent, node)
            elif kind is mapping_end or kind is sequence_end:
                done = stack[-1]
                if (
                    done.anchor is not None
                    or len(stack) == 1
                    or (stack[-2].is_mapping and not stack[-2].awaiting_value)
                ):
                    self._close(event)  # an anchored collection, the root, or a key
                else:  # the common case of `_close`, in line: an item or a mapping's value
                    stack.pop()
                    node = done.node
                    if done.problems is not None:
                        node.problems = tuple(done.problems)
                    node.problems_below = done.problems_below
                    parent = stack[-1]
                    parent.size += done.size
                    if done.problems is not None or done.problems_below:
                        parent.problems_below = True
                    if parent.is_mapping:
                        self._place(parent, node)
                    else:
                        parent.node.value.append(node)  # type: ignore[union-attr]
            elif kind is mapping_start or kind is sequence_start:
                if len(stack) >= MAX_DEPTH or event.anchor is not None:
                    self._open(event)
                else:  # the common case of `_open`, in line
                    mark = event.start_mark
                    is_mapping = kind is mapping_start
                    value: list[Node] | dict[str, Node] = {} if is_mapping else []
                    node = Node(value, mark.line + 1, mark.column + 1)
                    stack.append(_Open(node, None, is_mapping))
            elif kind is alias_event:
                self._alias(event)
            elif kind is yaml.DocumentStartEvent:
                self._document(event)
            elif event is None or kind is yaml.StreamEndEvent:
                return self.root

    def _document(self, event: yaml.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            self._fail(event, "expected one document, found a second (`---`)")

    def _fail(self, event: yaml.Event, message: str) -> None:
        raise YamlSyntaxError(Problem(self.file, *_position(event), "", message))

    def _open(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        if len(self.stack) >= MAX_DEPTH:
            self._fail(event, f"nested deeper than {MAX_DEPTH} levels")
        line, column = _position(event)
        value: list[Node] | dict[str, Node] = (
            {} if isinstance(event, yaml.MappingStartEvent) else []
        )
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Open(Node(value, line, column), event.anchor, isinstance(value, dict)))

    def _close(self, _event: yaml.Event) -> None:
        done = self.stack.pop()
        if done.problems is not None:
            done.node.problems = tuple(done.problems)
        done.node.problems_below = done.problems_below
        if done.anchor is not None:
            self.open_anchors.discard(done.anchor)
        if done.anchor is not None:
            self.anchors[done.anchor] = _Anchored(done.node, done.size, None)
        self._add(done.node, done.size, None)

    def _alias(self, event: yaml.AliasEvent) -> None:
        name = event.anchor or ""
        if name in self.open_anchors:
            self._fail(event, f"alias `*{name}` refers to the collection that contains it")
        anchored = self.anchors.get(name)
        if anchored is None:
            self._fail(event, f"unknown alias `*{name}` (no `&{name}` before it)")
            return
        self.alias_values += anchored.size
        if self.alias_values > MAX_ALIAS_VALUES:
            self._fail(
                event,
                f"aliases expand to more than {MAX_ALIAS_VALUES:,} values "
                "(an alias of an alias of ... grows exponentially); write the values out",
            )
        line, column = _position(event)
        # The alias shares its anchor's children: nothing is copied, whatever it expands to.
        alias = Node(anchored.node.value, line, column)
        alias.problems_below = anchored.node.problems_below or bool(anchored.node.problems)
        self._add(alias, anchored.size, anchored.text)

    def _add(self, node: Node, size: int, text: str | None) -> None:
        """Place a finished value in the open collection (or make it the root)."""
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        parent.size += size
        if node.problems or node.problems_below:
            parent.problems_below = True
        if not parent.is_mapping:
            parent.node.value.append(node)  # type: ignore[union-attr]
        elif not parent.awaiting_value:
            parent.awaiting_value = True
            parent.key = text
            parent.key_is_plain = text is not None
            parent.key_at = (node.line, node.column)
        else:
            self._place(parent, node)

    @staticmethod
    def _place(parent: _Open, node: Node) -> None:
        """Place a mapping's value under the key read before it."""
        parent.awaiting_value = False
        node.key_line, node.key_column = parent.key_at
        items = parent.node.value
        assert isinstance(items, dict)
        if not parent.key_is_plain or parent.key is None:
            problem = (*parent.key_at, "a key must be a plain name", "")
        elif parent.key in items:
            problem = (*parent.key_at, f"duplicate key `{parent.key}`", "each key once")
        else:
            items[parent.key] = node
            return
        if parent.problems is None:
            parent.problems = []
        parent.problems.append(problem)

    def _scalar(self, event: yaml.ScalarEvent) -> Node:
        line, column = _position(event)
        text, tag = event.value, event.tag
        if tag is None and "${env:" not in text:
            if event.implicit[0]:  # plain: resolved as YAML says (`30` an int)
                if text in self.plain:
                    return Node(self.plain[text], line, column, problems_below=False)
            elif event.implicit[1]:  # quoted: a string
                return Node(text, line, column, problems_below=False)
        style = event.style or None  # libyaml gives a plain scalar's style as "", PyYAML None
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)  # type: ignore[no-untyped-call]
        problems: list[tuple[int, int, str, str]] = []
        if tag == _STR and "${env:" in text:
            text, missing = self.env.substitute(text)
            problems.extend((line, column, missing_env_message(name), "") for name in missing)
            if style is None and not missing:
                tag = self.loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        value: Scalar = text
        if tag != _STR:
            value, problem = self._construct(yaml.ScalarNode(tag, text, style=style), text)
            if problem:
                problems.append((line, column, problem, ""))
        node = Node(value, line, column, problems_below=False)
        if problems:
            node.problems = tuple(problems)
        elif event.tag is None and event.implicit[0] and text == event.value:
            self.plain[text] = value
        return node

    def _construct(self, node: yaml.ScalarNode, text: str) -> tuple[Scalar, str]:
        """The scalar's value, or its text and why it could not be read as its tag says."""
        constructors = self.loader.yaml_constructors
        construct = constructors.get(node.tag) or constructors[None]
        try:
            value = construct(self.loader, node)
        except yaml.MarkedYAMLError as error:
            return text, f"cannot read this value: {error.problem or error.context}"
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as error:
            return text, f"cannot read this value as `{node.tag}`: {error}"
        return _scalar_value(value, text), ""


def _position(event: yaml.Event) -> tuple[int, int]:
    """(line, column), 1-based, where the event's text starts."""
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _scalar_value(value: object, text: str) -> Scalar:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime.date):
        return text  # a date-like string stays the text it was written as
    return text
