"""The `request:` of a step: method, URL, query, headers, body and time limits."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from loadlens.model.scenario import Body, BodyKind, JsonTemplate, Request, Timeouts
from loadlens.model.template import Template
from loadlens.spec.context import Context, Scope
from loadlens.spec.durations import QuantityError, parse_duration
from loadlens.spec.multipart import read_multipart
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, did_you_mean, join
from loadlens.spec.sizes import read_size
from loadlens.spec.templates import display_name
from loadlens.spec.urls import url_problem
from loadlens.spec.validate_headers import field_problem, framing_problem
from loadlens.spec.validate_http import HTTP_REQUEST_KEYS, read_auth, read_redirects

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
REQUEST_KEYS = (
    "name",
    "method",
    "url",
    "query",
    "headers",
    "json",
    "form",
    "body",
    "multipart",
    "content_type",
    "timeout",
    "tags",
    "max_body",
    *HTTP_REQUEST_KEYS,
)
_BODY_KEYS = ("json", "form", "body", "multipart")
_TIMEOUT_KEYS = ("connect", "read", "total")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def read_request(
    ctx: Context, node: Node, key: str, scope: Scope, defaults: Timeouts
) -> Request | None:
    """The request written at `node`, or None when it has problems (all reported)."""
    reader = ctx.reader
    before = len(reader.problems)
    fields = reader.mapping(node, key, REQUEST_KEYS, required=("url",))
    if fields is None:
        return None
    method: str | None = "GET"
    if "method" in fields:
        method = read_method(reader, fields["method"], join(key, "method"))
    url = None
    if "url" in fields:
        url = read_url(ctx, fields["url"], join(key, "url"), scope)
    query: tuple[tuple[str, Template], ...] = ()
    headers: tuple[tuple[str, Template], ...] = ()
    if "query" in fields:
        query = read_pairs(ctx, fields["query"], join(key, "query"), scope, lower=False)
    if "headers" in fields:
        headers = read_pairs(ctx, fields["headers"], join(key, "headers"), scope, lower=True)
    body = _read_body(ctx, fields, key, scope)
    timeouts = defaults
    if "timeout" in fields:
        timeouts = read_timeouts(reader, fields["timeout"], join(key, "timeout"), defaults)
    name = None
    if "name" in fields:
        name = reader.string(fields["name"], join(key, "name"))
    tags = read_tags(reader, fields["tags"], join(key, "tags")) if "tags" in fields else ()
    max_body = None
    if "max_body" in fields:
        max_body = read_size(reader, fields["max_body"], join(key, "max_body"))
    redirects = None
    if "redirects" in fields:
        redirects = read_redirects(reader, fields["redirects"], join(key, "redirects"))
    if "auth" in fields:
        headers = _with_auth(ctx, fields["auth"], join(key, "auth"), scope, headers)
    if len(reader.problems) > before or method is None or url is None:
        return None
    return Request(
        name=name or default_name(method, url),
        method=method,
        url=url,
        query=query,
        headers=headers,
        body=body,
        timeouts=timeouts,
        tags=tags,
        max_body=max_body,
        redirects=redirects,
    )


def _with_auth(
    ctx: Context,
    node: Node,
    key: str,
    scope: Scope,
    headers: tuple[tuple[str, Template], ...],
) -> tuple[tuple[str, Template], ...]:
    """The headers with the `authorization` that `auth:` makes (both given is a problem)."""
    value = read_auth(ctx, node, key, scope)
    if value is None:
        return headers
    if any(name == "authorization" for name, _ in headers):
        ctx.reader.report(node, key, "`auth` and an `authorization` header are both given")
        return headers
    return (*headers, ("authorization", value))


def read_tags(reader: Reader, node: Node, key: str) -> tuple[str, ...]:
    """`tags: [write, slow]` (or one tag as a string): names that gates can select by."""
    items = [node] if isinstance(node.value, str) else reader.sequence(node, key) or []
    tags: list[str] = []
    for index, item in enumerate(items):
        item_key = key if item is node else join(key, index)
        text = reader.string(item, item_key)
        if text is None:
            continue
        if _TAG.fullmatch(text) is None:
            reader.report(item, item_key, f"bad tag `{text}`: use letters, digits, `_`, `-`, `.`")
        elif text not in tags:
            tags.append(text)
    return tuple(tags)


def default_name(method: str, url: Template) -> str:
    """`GET /users/{id}`: the method and the URL's path, variables shown by name."""
    text = display_name(url).split("?", 1)[0]
    if text.startswith(("http://", "https://")):
        text = urlsplit(text).path
    return f"{method} {text or '/'}"


def read_method(reader: Reader, node: Node, key: str) -> str | None:
    """An HTTP method, upper-cased."""
    text = reader.string(node, key)
    if text is None:
        return None
    method = text.strip().upper()
    if method not in METHODS:
        hint = did_you_mean(method, METHODS) or f"one of {', '.join(METHODS)}"
        reader.report(node, key, f"unknown HTTP method `{text}`", hint)
        return None
    return method


def read_url(ctx: Context, node: Node, key: str, scope: Scope) -> Template | None:
    """A path (`/users`) or an absolute http(s) URL, as a template."""
    text = ctx.reader.string(node, key)
    if text is None:
        return None
    if not text.startswith(("/", "http://", "https://", "{{")):
        ctx.reader.report(
            node,
            key,
            f"bad URL `{text}`",
            "start with `/` (relative to the target) or `http://` / `https://`",
        )
        return None
    template = ctx.compile(text, node, key, scope)
    if template is not None and template.static is not None and not text.startswith("/"):
        problem = url_problem(text)
        if problem is not None:
            ctx.reader.report(node, key, problem)
            return None
    return template


def read_pairs(
    ctx: Context, node: Node | None, key: str, scope: Scope, *, lower: bool
) -> tuple[tuple[str, Template], ...]:
    """A mapping of names to templates (query, headers, form); header names lower-cased."""
    if node is None:
        return ()
    if not isinstance(node.value, dict):
        ctx.reader.report(node, key, "expected a mapping of names to values")
        return ()
    pairs: list[tuple[str, Template]] = []
    for name, child in node.value.items():
        template = ctx.template(child, join(key, name), scope)
        if template is not None and lower:
            problem = field_problem(name, template) or framing_problem(name.lower(), template)
            if problem is not None:
                ctx.reader.report(child, join(key, name), *problem, at_key=True)
                continue
        if template is not None:
            pairs.append((name.lower() if lower else name, template))
    return tuple(pairs)


def read_timeouts(reader: Reader, node: Node, key: str, base: Timeouts) -> Timeouts:
    """`10s` (the total) or `{connect, read, total}`; unset fields keep `base`."""
    if not isinstance(node.value, dict):
        total = _positive_duration(reader, node, key)
        return Timeouts(base.connect, base.read, total if total is not None else base.total)
    fields = reader.mapping(node, key, _TIMEOUT_KEYS) or {}
    values = {
        name: _positive_duration(reader, child, join(key, name)) for name, child in fields.items()
    }
    return Timeouts(
        connect=values.get("connect") or base.connect,
        read=values.get("read") or base.read,
        total=values.get("total") or base.total,
    )


def _positive_duration(reader: Reader, node: Node, key: str) -> float | None:
    try:
        seconds = parse_duration(node.value)
    except QuantityError as error:
        reader.report(node, key, str(error))
        return None
    if seconds <= 0:
        reader.report(node, key, f"must be a positive duration, got {node.value}")
        return None
    return seconds


def _read_body(ctx: Context, fields: dict[str, Node], key: str, scope: Scope) -> Body | None:
    """The body, if any: exactly one of `json`, `form`, `body`."""
    given = [name for name in _BODY_KEYS if name in fields]
    content_type = None
    if "content_type" in fields:
        content_type = ctx.reader.string(fields["content_type"], join(key, "content_type"))
    if len(given) > 1:
        ctx.reader.report(
            fields[given[1]],
            join(key, given[1]),
            f"a request has one body: `{given[0]}` and `{given[1]}` are both given",
            at_key=True,
        )
        return None
    if not given:
        return None
    name = given[0]
    node = fields[name]
    if name == "multipart":
        return _read_multipart(ctx, fields, key, scope)
    if name == "json":
        value = _json_template(ctx, node, join(key, "json"), scope)
        return Body(BodyKind.JSON, json=value, content_type=content_type)
    if name == "form":
        pairs = read_pairs(ctx, node, join(key, "form"), scope, lower=False)
        return Body(BodyKind.FORM, form=pairs, content_type=content_type)
    raw = ctx.template(node, join(key, "body"), scope)
    return Body(BodyKind.RAW, raw=raw, content_type=content_type)


def _read_multipart(ctx: Context, fields: dict[str, Node], key: str, scope: Scope) -> Body | None:
    """A `multipart:` body; its content type (and boundary) is the engine's to write."""
    for name in ("content_type", "headers"):
        node = fields.get(name)
        if name == "headers" and node is not None and isinstance(node.value, dict):
            node = next((v for k, v in node.value.items() if k.lower() == "content-type"), None)
        if node is not None:
            ctx.reader.report(
                node,
                join(key, name),
                "a `multipart` body sets its own content type (with its boundary)",
                "give each file its `content_type` instead",
                at_key=True,
            )
    parts = read_multipart(ctx, fields["multipart"], join(key, "multipart"), scope)
    return Body(BodyKind.MULTIPART, parts=parts) if parts else None


def _json_template(ctx: Context, node: Node, key: str, scope: Scope) -> JsonTemplate:
    """JSON values with every string compiled (a failed one is reported and kept literal)."""
    value = node.value
    if isinstance(value, dict):
        return {
            name: _json_template(ctx, child, join(key, name), scope)
            for name, child in value.items()
        }
    if isinstance(value, list):
        return [_json_template(ctx, child, join(key, i), scope) for i, child in enumerate(value)]
    if isinstance(value, str):
        return ctx.compile(value, node, key, scope) or Template.literal(value)
    return value
