"""What a browser-like user agent does around one request: cookies and redirects.

How it works
------------
Both are layers around the encoded request the runner already has, so a request that uses
neither pays for two cheap tests only (`StepRunner`): the user has no jar, the status is not
3xx.

Cookies: `with_cookies` adds a `cookie` field to an encoded request when the user's jar holds
cookies for its host and path; `keep_cookies` stores the `Set-Cookie` fields of a response in
the user's jar, creating the jar at the first cookie (the runner's `_sets_cookie`, a cheap
test on the raw head, decides whether the head is parsed at all).

Redirects: a `RedirectChain` starts at the first 301/302/303/307/308 response with a
`Location`; `next_hop` builds the next request from the previous one (301/302/303 turn a
request other than GET/HEAD into a body-less GET, as browsers and k6 do; 307/308 keep method
and body; `authorization` is dropped when the hop leaves the origin, as browsers do). A hop past
the request's limit, or back to a request already sent in the chain, ends the chain as an
error outcome (`too_many_redirects`, `redirect_loop`). The chain's first send instant is the
operation's start, so its latency covers every hop; its bytes are added to the final
response's, and its features say how many hops it took and how many left the first origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, urljoin, urlsplit

from loadlens.engine.variables import UserState
from loadlens.http import Origin, Response, TransportError, encode_request
from loadlens.http.cookies import CookieJar
from loadlens.model.outcome import ErrorKind

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Fields the next hop writes anew or drops: framing and host depend on the hop, the cookie comes
# from the jar for the hop's own host and path.
_REWRITTEN: Final = frozenset({b"host", b"content-length", b"transfer-encoding", b"cookie"})
_BODY_FIELDS: Final = frozenset({b"content-type", b"content-encoding"})
_KEEP_METHOD: Final = frozenset({b"GET", b"HEAD"})
# Left as they are in a redirect's target: RFC 3986's reserved characters and `%` (a
# `Location` already percent-encoded stays as it was); `quote` keeps letters, digits and `_.-~`.
_TARGET_SAFE: Final = "!#$%&'()*+,/:;=?@[]~"


def keep_cookies(user: UserState, response: Response, origin: Origin, data: bytes) -> None:
    """Store the response's `Set-Cookie` fields in the user's jar."""
    fields = [v.decode("latin-1") for n, v in response.headers if n == b"set-cookie"]
    if not fields:
        return
    jar = user.cookies
    if jar is None:
        jar = user.cookies = CookieJar()
    jar.store(fields, origin.host, _path_of(data))


def with_cookies(data: bytes, jar: CookieJar, origin: Origin) -> bytes:
    """The encoded request with the jar's matching cookies in a `cookie` field (if any)."""
    value = jar.header_for(origin.host, _path_of(data), origin.scheme == "https")
    if value is None:
        return data
    line_end = data.find(b"\r\n") + 2
    return data[:line_end] + b"cookie: " + value.encode("latin-1") + b"\r\n" + data[line_end:]


def cookie_value(response: Response, user: UserState, name: str) -> str | None:
    """A cookie's value as this response set it, else as the user's jar holds it."""
    prefix = name + "="
    for field_name, value in response.headers:
        if field_name == b"set-cookie":
            text = value.decode("latin-1").split(";", 1)[0].strip()
            if text.startswith(prefix):
                return text[len(prefix) :].strip().strip('"')
    return None if user.cookies is None else user.cookies.value(name)


@dataclass(slots=True)
class Hop:
    """The next request of a chain."""

    origin: Origin
    data: bytes
    head: bool


@dataclass(slots=True)
class RedirectChain:
    """The redirects one operation has followed so far."""

    origin: Origin  # the first request's origin: hops elsewhere are counted as leaving it
    limit: int
    start_ns: int
    hops: int = 0
    other_origin: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seen: set[tuple[Origin, bytes, bytes]] = field(default_factory=set)

    @property
    def features(self) -> tuple[str, ...]:
        """What the diagnosis and the result record about the chain."""
        if self.other_origin:
            return (f"redirects:{self.hops}", f"redirects_other_origin:{self.other_origin}")
        return (f"redirects:{self.hops}",)

    def next_hop(
        self,
        response: Response,
        origin: Origin,
        data: bytes,
        user: UserState,
        cookies: bool,
    ) -> Hop | TransportError | None:
        """The request that follows `response` to `data`, an error ending the chain, or None
        when `response` is not a redirect to follow (it is then judged as it is)."""
        if response.status not in REDIRECT_STATUSES:
            return None
        location = response.header("location")
        if not location:
            return None
        method, target, fields, body = _split_request(data)
        if not self.seen:
            self.seen.add((origin, method, target))
        absolute = urljoin(f"{origin}{target.decode('latin-1')}", location.strip())
        try:
            next_origin = Origin.parse(absolute)
        except ValueError:
            return None  # not a URL this client can follow: the 3xx is judged as it is
        parts = urlsplit(absolute)
        # As a browser does: what a request target cannot carry as it is (a space, a
        # character beyond ASCII, CR or LF from a hostile `Location`) is percent-encoded.
        path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        next_target = quote(path_and_query, safe=_TARGET_SAFE).encode("ascii")
        if response.status in (301, 302, 303) and method not in _KEEP_METHOD:
            method, body = b"GET", None
            fields = [(n, v) for n, v in fields if n not in _BODY_FIELDS]
        if next_origin != origin:
            fields = [(n, v) for n, v in fields if n != b"authorization"]
        key = (next_origin, method, next_target)
        where = f"{origin}{target.decode('latin-1')}"
        if key in self.seen:
            message = f"{where}: redirected back to {absolute}"
            return TransportError(ErrorKind.REDIRECT_LOOP, message)
        if self.hops >= self.limit:
            message = f"{where}: more than {self.limit} redirects (the last to {absolute})"
            return TransportError(ErrorKind.TOO_MANY_REDIRECTS, message)
        self.seen.add(key)
        self.hops += 1
        if next_origin != self.origin:
            self.other_origin += 1
        self.bytes_sent += response.bytes_sent
        self.bytes_received += response.bytes_received
        encoded = encode_request(method, next_target, next_origin.host_header, fields, body)
        if cookies and user.cookies is not None:
            encoded = with_cookies(encoded, user.cookies, next_origin)
        return Hop(next_origin, encoded, method == b"HEAD")

    def finish(self, response: Response) -> None:
        """Count the earlier hops' bytes in the final response's."""
        response.bytes_sent += self.bytes_sent
        response.bytes_received += self.bytes_received


def _path_of(data: bytes) -> str:
    """The path of an encoded request's target, without its query."""
    line = data[: data.find(b"\r\n")]
    first = line.find(b" ")
    target = line[first + 1 : line.rfind(b" ")]
    return target.split(b"?", 1)[0].decode("latin-1") or "/"


def _split_request(data: bytes) -> tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes | None]:
    """Method, target, the fields to carry over, and the body of an encoded request."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].split(b" ", 2)
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name not in _REWRITTEN:
            fields.append((name, value.strip()))
    return method, target, fields, body or None
