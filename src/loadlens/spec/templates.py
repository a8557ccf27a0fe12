"""`{{ ... }}` templates → `loadlens.model.template.Template`, parsed once at load time.

Inside the braces (whitespace optional): `name` (a user variable), `pool.NAME`,
`FEEDER.COLUMN`, or a builtin: `uuid`, `user_id`, `iteration`, `timestamp`,
`random_int(A, B)`. Whether a name is defined is the validator's question, not the parser's.
"""

from __future__ import annotations

import re

from loadlens.model.template import Template, VarRef, VarSource

BUILTINS = frozenset({"uuid", "user_id", "iteration", "timestamp", "random_int"})

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_COLUMN = r"[A-Za-z0-9_][A-Za-z0-9_\-]*"
_USER = re.compile(_NAME)
_DOTTED = re.compile(rf"({_NAME})\.({_COLUMN})")
_RANDOM_INT = re.compile(r"random_int\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)")


class TemplateSyntaxError(ValueError):
    """A template that cannot be parsed; `offset` is where in the text (0-based)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def compile_template(text: str) -> Template:
    """Literal parts and references of `text`; raises TemplateSyntaxError."""
    parts: list[str | VarRef] = []
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            break
        # `{{{ x }}`: the braces nearest the name open the reference, the first is literal
        while text.startswith("{{", start + 1):
            start += 1
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateSyntaxError("unclosed `{{` (a reference ends with `}}`)", start)
        if start > position:
            parts.append(text[position:start])
        parts.append(parse_reference(text[start + 2 : end], start))
        position = end + 2
    if not any(isinstance(part, VarRef) for part in parts):
        return Template.literal(text)
    if position < len(text):
        parts.append(text[position:])
    return Template(parts=tuple(parts), static=None)


def parse_reference(expression: str, offset: int = 0) -> VarRef:
    """The reference written inside `{{ }}`."""
    inner = expression.strip()
    if _USER.fullmatch(inner):
        if inner == "random_int":
            raise TemplateSyntaxError("`random_int` needs two bounds: `random_int(1, 100)`", offset)
        source = VarSource.BUILTIN if inner in BUILTINS else VarSource.USER
        return VarRef(source, inner)
    dotted = _DOTTED.fullmatch(inner)
    if dotted is not None:
        owner, name = dotted.groups()
        if owner == "pool":
            if _USER.fullmatch(name) is None:
                raise TemplateSyntaxError(f"`{name}` is not a pool name", offset)
            return VarRef(VarSource.POOL, name)
        return VarRef(VarSource.FEEDER, owner, field=name)
    bounds = _RANDOM_INT.fullmatch(inner)
    if bounds is not None:
        low, high = int(bounds.group(1)), int(bounds.group(2))
        if low > high:
            raise TemplateSyntaxError(
                f"random_int({low}, {high}): the first bound is larger", offset
            )
        return VarRef(VarSource.BUILTIN, "random_int", args=(low, high))
    raise TemplateSyntaxError(
        f"`{{{{ {inner} }}}}` is not a reference (expected a variable, `pool.NAME`, "
        "`FEEDER.COLUMN`, or a builtin such as `uuid` or `random_int(1, 10)`)",
        offset,
    )


def display_name(template: Template) -> str:
    """The template with each reference shown as `{name}`: `/users/{id}`."""
    return "".join(p if isinstance(p, str) else "{" + p.display + "}" for p in template.parts)
