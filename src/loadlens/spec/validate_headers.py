"""Headers a scenario may not set: the ones that frame a message on the connection.

The HTTP client writes `Content-Length` (or nothing, for a request without a body) from the
body it sends, and reads each response by that framing on a kept-alive connection. A user's
`Content-Length` or `Transfer-Encoding` replaces the client's and, when it does not match the
body, makes the server read the next request's bytes as this body (or wait for bytes that
never come): every later response on the connection answers another request. `Upgrade` (and
`Connection: upgrade`) would switch the connection to another protocol the client does not
speak. `Host` stays allowed: it names the virtual host and frames nothing.
"""

from __future__ import annotations

import re

from loadlens.model.header_text import beyond_latin1, breaks_line
from loadlens.model.template import Template

_FRAMING = {
    "content-length": "the client writes it from the body it sends",
    "transfer-encoding": "the client sends bodies with a Content-Length",
    "upgrade": "the client speaks HTTP/1.1 on the connection, never another protocol",
}
_CONNECTION_VALUES = ("keep-alive", "close")
# RFC 9110's `token`: the characters a field name may hold.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def field_problem(name: str, value: Template) -> tuple[str, str] | None:
    """(message, hint) when a header cannot be written as given: its name is not an HTTP token,
    or the value's written text holds CR, LF, NUL or a character beyond Latin-1 (values a
    template inserts are checked as each request is written: `unsendable` outcomes)."""
    if _TOKEN.fullmatch(name) is None:
        return (
            f"`{name}` is not a header name",
            "letters, digits and !#$%&'*+-.^_`|~ only, without spaces",
        )
    for part in value.parts:
        if not isinstance(part, str):
            continue
        if breaks_line(part):
            return (
                "a header value cannot hold CR, LF or NUL",
                "one line, without control characters",
            )
        if beyond_latin1(part):
            return (
                "a header value cannot hold characters beyond Latin-1",
                "percent-encode it (`{{ value | urlencode }}`) or send it in the body",
            )
    return None


def framing_problem(name: str, value: Template) -> tuple[str, str] | None:
    """(message, hint) when header `name` (lower-case) would desynchronise the connection."""
    if name in _FRAMING:
        return f"the `{name}` header cannot be set: it frames the message", _FRAMING[name]
    if name == "connection":
        text = value.static
        if text is None or text.strip().lower() not in _CONNECTION_VALUES:
            return (
                f"`connection: {text if text is not None else '{{ ... }}'}` cannot be set",
                "only `keep-alive` or `close`: the client manages the connection",
            )
    return None
