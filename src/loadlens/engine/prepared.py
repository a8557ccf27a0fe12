"""Requests compiled once at load into what the hot path needs.

Everything that does not depend on a variable (method, host header, static headers, a static
body, the whole request when nothing is templated) is encoded to bytes here, once; per request
the engine only renders the templated parts and joins bytes.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

from loadlens.engine.features import RequestFeatures, plan_features
from loadlens.engine.multipart import MultipartBody, compile_multipart
from loadlens.engine.variables import SharedData, UserState
from loadlens.http import Origin, encode_request
from loadlens.http.decoding import ACCEPT_ENCODING
from loadlens.http.upload import Upload
from loadlens.http.wire import request_around_target
from loadlens.model.redaction import Redactor
from loadlens.model.scenario import DEFAULT_MAX_BODY, Body, BodyKind, JsonTemplate, Request
from loadlens.model.template import Filtered, Template, VarRef, render

# Characters left as they are when a variable's value goes into a URL: the reserved ones, so a
# captured path fragment still works; everything else (spaces, non-ASCII) is percent-encoded.
_URL_SAFE: Final = "/:@!$&'()*+,;=-._~?"
_UNRESERVED: Final = string.ascii_letters + string.digits + "._~-"  # what `quote` leaves as it is

# A user with no data, to encode requests that use none.
_NO_SHARED = SharedData(rng=random.Random(0))

_DEFAULT_CONTENT_TYPE = {
    BodyKind.JSON: "application/json",
    BodyKind.FORM: "application/x-www-form-urlencoded",
    BodyKind.RAW: "text/plain; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request ready to encode for one user."""

    operation: int  # index of the operation in the run's operation list
    name: str
    method: bytes
    origin: Origin
    is_head: bool
    static: bytes | None  # the whole encoded request when nothing is templated
    # The bytes before and after the target when only the target (path, query) is templated.
    around_target: tuple[bytes, bytes] | None
    url: Template
    query: tuple[tuple[str, Template], ...]
    headers: tuple[tuple[bytes, Template], ...]
    body: Body | None
    static_body: bytes | None
    timeouts: tuple[float | None, float | None, float | None] | None
    features: RequestFeatures  # what the diagnosis records about each request
    max_body: int = DEFAULT_MAX_BODY  # bytes of the response body kept
    multipart: MultipartBody | None = None  # a body streamed after the head (`encode_upload`)

    def encode(self, user: UserState) -> bytes:
        """The request's bytes for this user (MissingVariableError when a variable has no value)."""
        if self.static is not None:
            return self.static
        return self._encode(user.value_of)

    def encode_into(self, user: UserState, used: dict[VarRef, object]) -> bytes:
        """Like `encode`, also noting in `used` the value each variable reference was given."""
        value_of = user.value_of

        def lookup(ref: VarRef) -> object:
            value = used[ref] = value_of(ref)
            return value

        return self._encode(lookup)

    def encode_upload(self, user: UserState, used: dict[VarRef, object]) -> tuple[bytes, Upload]:
        """A multipart request's head for this user, and the body to stream after it (noting
        in `used` as `encode_into` does)."""
        assert self.multipart is not None
        value_of = user.value_of

        def lookup(ref: VarRef) -> object:
            value = used[ref] = value_of(ref)
            return value

        upload = self.multipart.render(lookup)
        return self._encode(lookup, upload.length), upload

    def _encode(self, lookup: Callable[[VarRef], object], upload_length: int = -1) -> bytes:
        target = _render_url(self.url, lookup)
        if self.query:
            pairs = [(k, render(v, lookup)) for k, v in self.query]
            target += ("&" if "?" in target else "?") + urlencode(pairs)
        if self.around_target is not None:
            # Values are percent-encoded into the target and its literal parts were checked
            # at load: it holds no space, CR or LF.
            before, after = self.around_target
            return before + target.encode("latin-1") + after
        headers = [(name, render(value, lookup).encode("latin-1")) for name, value in self.headers]
        body = self.static_body
        if upload_length >= 0:  # the body follows the head as an Upload
            headers.append((b"content-length", b"%d" % upload_length))
        elif body is None:
            body = _encode_body(self.body, lookup)
        return encode_request(
            self.method, target.encode("latin-1"), self.origin.host_header, headers, body
        )


def prepare(
    request: Request,
    operation: int,
    target: Origin,
    default_headers: tuple[tuple[str, Template], ...],
    redactor: Redactor | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    flow: str = "",
    *,
    base_path: str = "",
    compression: bool = False,
) -> PreparedRequest:
    """Compile one request of the scenario (`redactor` masks its secrets in diagnostics;
    `max_body` is the scenario's default, which the request's own overrides; `flow`, the flow
    it runs in, is one of its diagnosis features; `base_path` is the target's path, joined
    before each URL that starts with `/`; `compression` asks for compressed bodies)."""
    origin = target
    url = request.url
    if url.static is not None and url.static.startswith(("http://", "https://")):
        origin = Origin.parse(url.static)
        parts = urlsplit(url.static)
        url = Template.literal((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    elif base_path:
        url = under_base(url, base_path)
    merged: dict[str, Template] = dict(default_headers)
    merged.update(request.headers)
    if compression and "accept-encoding" not in merged:
        merged["accept-encoding"] = Template.literal(ACCEPT_ENCODING.decode("ascii"))
    multipart = None
    if request.body is not None and request.body.kind is BodyKind.MULTIPART:
        # The boundary is ours: a default `content-type` cannot stand (validation refuses one
        # on the request itself).
        multipart = compile_multipart(request.body.parts)
        merged["content-type"] = Template.literal(multipart.content_type)
    elif request.body is not None and "content-type" not in merged:
        content_type = request.body.content_type or _DEFAULT_CONTENT_TYPE[request.body.kind]
        merged["content-type"] = Template.literal(content_type)
    headers = tuple((name.encode("latin-1"), value) for name, value in merged.items())
    static_body = _static_body(request.body)
    timeouts = request.timeouts
    timeout_triple = None
    if (timeouts.connect, timeouts.read, timeouts.total) != (None, None, None):
        timeout_triple = (timeouts.connect, timeouts.read, timeouts.total)
    prepared = PreparedRequest(
        operation=operation,
        name=request.name,
        method=request.method.encode("ascii"),
        origin=origin,
        is_head=request.method == "HEAD",
        static=None,
        around_target=None,
        url=url,
        query=request.query,
        headers=headers,
        body=request.body,
        static_body=static_body,
        timeouts=timeout_triple,
        features=plan_features(
            url,
            request.query,
            headers,
            request.body,
            redactor or Redactor(),
            request.method.encode("ascii"),
            flow,
        ),
        max_body=max_body if request.max_body is None else request.max_body,
        multipart=multipart,
    )
    body_static = multipart is None and (request.body is None or static_body is not None)
    if body_static and all(value.static is not None for _, value in headers):
        target_static = all(t.static is not None for t in [url, *(v for _, v in request.query)])
        if target_static:
            # Nothing depends on a user: encode the whole request once.
            dummy = UserState(user_id=0, shared=_NO_SHARED, variables={})
            object.__setattr__(prepared, "static", prepared.encode(dummy))
        elif all(_target_safe(part) for part in url.parts if isinstance(part, str)):
            static_headers = [
                (name, (value.static or "").encode("latin-1")) for name, value in headers
            ]
            around = request_around_target(
                prepared.method, origin.host_header, static_headers, static_body
            )
            object.__setattr__(prepared, "around_target", around)
    return prepared


def under_base(url: Template, base_path: str) -> Template:
    """A request URL joined under the target's path, as httpx's `base_url` joins: `/users`
    under `/v1` is `/v1/users`. A URL that starts with a variable is left as it is (it may
    hold an absolute URL)."""
    base = base_path.rstrip("/")
    first = url.parts[0] if url.parts else ""
    if not base or not isinstance(first, str) or not first.startswith("/"):
        return url
    if url.static is not None:
        return Template.literal(base + url.static)
    return Template(parts=(base + first, *url.parts[1:]), static=None)


def _target_safe(literal: str) -> bool:
    """A literal part of a URL template that may go into a request line as it is."""
    return not any(c in literal for c in " \r\n")


def _render_url(url: Template, lookup: Callable[[VarRef], object]) -> str:
    if url.static is not None:
        return url.static
    out: list[str] = []
    for part in url.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            if isinstance(part, Filtered) and part.filters[-1] == "urlencode":
                out.append(part.apply(lookup))  # encoded already: not a second time
                continue
            value = lookup(part) if isinstance(part, VarRef) else part.apply(lookup)
            text = value if isinstance(value, str) else str(value)
            # Most ids need no quoting: stripping every unreserved character leaves nothing
            # (one C call, a fifth of what a regex match costs; `quote` would find it slower).
            out.append(quote(text, safe=_URL_SAFE) if text.strip(_UNRESERVED) else text)
    return "".join(out)


def _static_body(body: Body | None) -> bytes | None:
    if body is None or body.kind is BodyKind.MULTIPART:
        return None
    if body.kind is BodyKind.JSON:
        return _dump_json(_render_json(body.json, None)) if body.static_json else None
    if body.kind is BodyKind.FORM:
        if all(v.static is not None for _, v in body.form):
            return urlencode([(k, v.static or "") for k, v in body.form]).encode()
        return None
    assert body.raw is not None
    return body.raw.static.encode() if body.raw.static is not None else None


def _encode_body(body: Body | None, lookup: Callable[[VarRef], object]) -> bytes | None:
    if body is None:
        return None
    if body.kind is BodyKind.JSON:
        return _dump_json(_render_json(body.json, lookup))
    if body.kind is BodyKind.FORM:
        return urlencode([(k, render(v, lookup)) for k, v in body.form]).encode()
    assert body.raw is not None
    return render(body.raw, lookup).encode()


def _render_json(value: JsonTemplate, lookup: Callable[[VarRef], object] | None) -> object:
    if isinstance(value, Template):
        if value.static is not None:
            return value.static
        assert lookup is not None
        single = value.single_ref
        if single is not None:
            return lookup(single)  # `"{{ n }}"` keeps the value's type
        return render(value, lookup)
    if isinstance(value, list):
        return [_render_json(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: _render_json(v, lookup) for k, v in value.items()}
    return value


def _dump_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
