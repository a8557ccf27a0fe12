"""`{{ ... }}` templates → `loadlens.model.template.Template`, parsed once at load time.

Inside the braces (whitespace optional): `name` (a user variable), `pool.NAME`,
`FEEDER.COLUMN`, or a builtin: `uuid`, `user_id`, `iteration`, `timestamp`,
`random_int(A, B)`, or a quoted literal (`'text'`); then any filters, `{{ name | lower |
sha256 }}` (see `loadlens.model.template.FILTERS`). Whether a name is defined is the
validator's question, not the parser's.
"""

from __future__ import annotations

import re

from loadlens.model.template import (
    FILTERS,
    Filtered,
    Piece,
    Template,
    VarRef,
    VarSource,
    apply_filter,
)

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
    parts: list[Piece] = []
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
        parts.append(parse_piece(text[start + 2 : end], start))
        position = end + 2
    if position < len(text):
        parts.append(text[position:])
    if all(isinstance(part, str) for part in parts):  # no reference, or filters folded at load
        return Template.literal("".join(p for p in parts if isinstance(p, str)))
    return Template(parts=_joined(parts), static=None)


def _joined(parts: list[Piece]) -> tuple[Piece, ...]:
    """Adjacent literal parts joined into one."""
    out: list[Piece] = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] = out[-1] + part
        elif part != "":
            out.append(part)
    return tuple(out)


def parse_piece(expression: str, offset: int = 0) -> Piece:
    """What `{{ ... }}` holds: a reference or a quoted literal, then `| filter`s. A filtered
    literal is applied here, at load, and becomes literal text."""
    source, *filters = _split_filters(expression, offset)
    stripped = source.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        inner = Template.literal(stripped[1:-1])
    else:
        ref = parse_reference(source, offset)
        if not filters:
            return ref
        inner = Template(parts=(ref,), static=None)
    names = tuple(name.strip() for name in filters)
    for name in names:
        if name not in FILTERS:
            raise TemplateSyntaxError(
                f"unknown filter `{name}` (expected one of {', '.join(FILTERS)})", offset
            )
    if inner.static is not None:
        value: object = inner.static
        for name in names:
            value = apply_filter(name, value)
        return str(value)
    return Filtered(inner, names)


def _split_filters(expression: str, offset: int) -> list[str]:
    """`'a|b' | lower` → [`'a|b'`, ` lower`]: `|` inside a quoted literal is text."""
    stripped = expression.strip()
    if stripped[:1] in ("'", '"'):
        close = stripped.find(stripped[0], 1)
        if close < 0:
            raise TemplateSyntaxError("unclosed quote in `{{ }}`", offset)
        rest = stripped[close + 1 :]
        if rest.strip() and not rest.lstrip().startswith("|"):
            raise TemplateSyntaxError(f"unexpected `{rest.strip()}` after a quoted value", offset)
        return [stripped[: close + 1], *rest.split("|")[1:]]
    return expression.split("|")


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
