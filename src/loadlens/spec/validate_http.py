"""The HTTP behaviour keys: `cookies:`, `compression:`, `http2:`, `redirects:` and `auth:`.

`cookies` and `compression` are scenario keys (on unless `false`), `http2` one that is off
unless `true`, with `max_streams` (HTTP/2 streams at once per connection, only with `http2`);
`redirects` and `auth` may
stand in `defaults:` and in each `request:` (a request's own wins). `auth` becomes the
request's `authorization` header, so everything that treats that header as sensitive (its
values and the variables it uses are secrets, redacted wherever loadlens writes) holds for it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from loadlens.model.redaction import request_steps
from loadlens.model.scenario import DEFAULT_MAX_STREAMS, Step
from loadlens.model.template import Filtered, Piece, Template
from loadlens.spec.context import Context, Scope
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, join

HTTP_TOP_KEYS = ("cookies", "compression", "http2", "max_streams")
HTTP_DEFAULT_KEYS = ("redirects", "auth")
HTTP_REQUEST_KEYS = ("redirects", "auth")
# More hops than any real chain needs; a limit past it is a typo more likely than a plan.
MAX_REDIRECTS = 100
_AUTH_KINDS = ("basic", "bearer")
# HTTP/2 servers allow 100 to 256 streams at once (nginx 128, h2o 100, Go 250); more than this
# on one connection is a typo more likely than a plan (the server's own limit applies anyway).
MAX_STREAMS = 10_000


def read_switch(reader: Reader, fields: dict[str, Node], name: str) -> bool:
    """A scenario key that is on unless written `false`."""
    if name not in fields:
        return True
    return reader.boolean(fields[name], name) is not False


def read_max_streams(reader: Reader, fields: dict[str, Node], http2: bool) -> int:
    """`max_streams: N`: HTTP/2 streams at once on one connection; only beside `http2: true`."""
    if "max_streams" not in fields:
        return DEFAULT_MAX_STREAMS
    node = fields["max_streams"]
    count = reader.integer(node, "max_streams", minimum=1)
    if count is None:
        return DEFAULT_MAX_STREAMS
    if count > MAX_STREAMS:
        reader.report(node, "max_streams", f"{count} streams is past the limit of {MAX_STREAMS}")
        return DEFAULT_MAX_STREAMS
    if not http2:
        reader.report(node, "max_streams", "`max_streams` applies to HTTP/2: add `http2: true`")
    return count


def read_redirects(reader: Reader, node: Node, key: str) -> int | None:
    """`redirects: N`: how many redirects a request follows (0: none)."""
    count = reader.integer(node, key, minimum=0)
    if count is not None and count > MAX_REDIRECTS:
        reader.report(node, key, f"{count} redirects is past the limit of {MAX_REDIRECTS}")
        return None
    return count


def read_auth(ctx: Context, node: Node, key: str, scope: Scope) -> Template | None:
    """`{basic: [user, password]}` or `{bearer: TOKEN}` → the `authorization` header value."""
    reader = ctx.reader
    fields = reader.mapping(node, key, _AUTH_KINDS, what="`basic: [user, password]` or `bearer`")
    if fields is None:
        return None
    if len(fields) != 1:
        if len(fields) > 1 or not node.value:  # an unknown key alone is reported already
            reader.report(node, key, "give one of `basic: [user, password]` or `bearer: TOKEN`")
        return None
    if "bearer" in fields:
        token = ctx.template(fields["bearer"], join(key, "bearer"), scope)
        return None if token is None else _prefixed("Bearer ", token)
    where = join(key, "basic")
    items = reader.sequence(fields["basic"], where)
    if items is None:
        return None
    if len(items) != 2:
        reader.report(fields["basic"], where, "expected two values: [user, password]")
        return None
    user = ctx.template(items[0], join(where, 0), scope)
    password = ctx.template(items[1], join(where, 1), scope)
    if user is None or password is None:
        return None
    return basic_credential(user, password)


def basic_credential(user: Template, password: Template) -> Template:
    """`Basic base64(user:password)`; encoded once, here, when neither has a variable."""
    pair = Template(parts=(*user.parts, ":", *password.parts), static=None)
    if user.static is not None and password.static is not None:
        pair = Template.literal(f"{user.static}:{password.static}")
    if pair.static is not None:
        filtered = Filtered(pair, ("base64",))
        return Template.literal("Basic " + filtered.apply(lambda ref: None))
    return Template(parts=("Basic ", Filtered(pair, ("base64",))), static=None)


def _prefixed(prefix: str, template: Template) -> Template:
    if template.static is not None:
        return Template.literal(prefix + template.static)
    parts: tuple[Piece, ...] = (prefix, *template.parts)
    return Template(parts=parts, static=None)


def auth_secrets(headers: Iterable[tuple[str, Template]], steps: Iterable[Step]) -> frozenset[str]:
    """The credentials written as constants in `authorization` headers (those `auth:` makes
    included): the password and `user:password` of a Basic credential, a Bearer token. They
    are secrets whatever their `${env:...}` name says, once folded out of sight into base64."""
    found: set[str] = set()
    every = [*headers, *(h for step in request_steps(steps) for h in step.request.headers)]
    for name, template in every:
        if name != "authorization" or template.static is None:
            continue
        scheme, _, credential = template.static.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential:
            found.add(credential)
        elif scheme.lower() == "basic" and credential:
            found.add(credential)
            try:
                pair = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            found.add(pair)
            found.add(pair.partition(":")[2])
    return frozenset(value for value in found if value)
