"""A JSONPath subset, compiled once: `$`, `.key`, `['key']`, `[0]`, `[-1]`, `[*]`, `.*`.

That subset covers what load-test captures and checks use (an id, a list's first or every
item); filters and recursive descent are left out on purpose: they are slow and rarely needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A compiled path: each segment is a key (str), an index (int) or the wildcard."""

    text: str
    segments: tuple[str | int, ...]
    wildcard: frozenset[int]  # positions of wildcard segments (a key named "*" stays a key)

    def __reduce__(
        self,
    ) -> tuple[type[JsonPath], tuple[str, tuple[str | int, ...], frozenset[int]]]:
        # Rebuilt when unpickled: compiled by mypyc, a frozen dataclass refuses to be filled in
        # field by field, and workers receive scenarios pickled.
        return JsonPath, (self.text, self.segments, self.wildcard)

    def find(self, document: object) -> list[object]:
        """Every value the path selects, in document order; empty when nothing matches."""
        current: list[object] = [document]
        for position, segment in enumerate(self.segments):
            following: list[object] = []
            if position in self.wildcard:
                for node in current:
                    if isinstance(node, list):
                        following.extend(node)
                    elif isinstance(node, dict):
                        following.extend(node.values())
            elif isinstance(segment, int):
                for node in current:
                    if isinstance(node, list) and -len(node) <= segment < len(node):
                        following.append(node[segment])
            else:
                for node in current:
                    if isinstance(node, dict) and segment in node:
                        following.append(node[segment])
            current = following
            if not current:
                break
        return current

    def first(self, document: object) -> tuple[bool, object]:
        """(found, value) of the first match."""
        found = self.find(document)
        return (True, found[0]) if found else (False, None)


class JsonPathSyntaxError(ValueError):
    """A path outside the supported subset; the message says where and what was expected."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_BRACKET = re.compile(r"\[\s*(?:(-?\d+)|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(\*))\s*\]")


_ESCAPED: dict[str, str] = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _unescape(quoted: str) -> str:
    """A quoted key's text: `\\x` is `x` (`\\'`, `\\"`, `\\\\`), and `\\n`, `\\t`... the control."""
    if "\\" not in quoted:
        return quoted
    chars: list[str] = []
    escaped = False
    for char in quoted:
        if escaped:
            chars.append(_ESCAPED.get(char, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            chars.append(char)
    return "".join(chars)


def parse_jsonpath(text: str) -> JsonPath:
    """Compile `text`, or raise JsonPathSyntaxError naming the offending position."""
    if not text.startswith("$"):
        raise JsonPathSyntaxError("a JSONPath starts with `$` (e.g. `$.id`, `$.items[0].id`)")
    segments: list[str | int] = []
    wildcard: set[int] = set()
    i = 1
    while i < len(text):
        char = text[i]
        if char == ".":
            if text.startswith(".*", i):
                wildcard.add(len(segments))
                segments.append(_WILDCARD)
                i += 2
                continue
            match = _NAME.match(text, i + 1)
            if match is None:
                raise JsonPathSyntaxError(f"expected a key name after `.` at column {i + 2}")
            segments.append(match.group())
            i = match.end()
        elif char == "[":
            match = _BRACKET.match(text, i)
            if match is None:
                raise JsonPathSyntaxError(
                    f"expected `[index]`, `['key']` or `[*]` at column {i + 1}"
                )
            index, single, double, star = match.groups()
            if index is not None:
                segments.append(int(index))
            elif star is not None:
                wildcard.add(len(segments))
                segments.append(_WILDCARD)
            else:
                segments.append(_unescape(single if single is not None else double))
            i = match.end()
        else:
            raise JsonPathSyntaxError(f"unexpected `{char}` at column {i + 1}")
    return JsonPath(text=text, segments=tuple(segments), wildcard=frozenset(wildcard))
