"""A virtual user's cookies: RFC 6265 storage and retrieval, small and per user.

How it works
------------
`store` reads the `Set-Cookie` fields of one response (RFC 6265 section 5.2: the first `;`
part is `name=value`, the rest attributes) and keeps each cookie under (domain, path, name),
replacing an older one; `Max-Age` wins over `Expires`, and a cookie whose expiry has passed
deletes its namesake. A cookie without `Domain` is host-only (sent to that exact host); with
one, to the domain and its subdomains, and only when the response's host domain-matches it
(section 5.3 step 6). Without `Path`, the default path is the request path's directory
(section 5.1.4). `header_for` picks the cookies whose domain, path and `Secure` flag match a
request and joins them longest path first (section 5.4), or returns None when none does.

Why not `http.cookiejar`: it implements the Netscape and RFC 2965 rules (a leading-dot domain
rule, port lists) rather than RFC 6265, and needs urllib Request and Response objects built
for every exchange; this jar works on the bytes the client already has, and a user whose
responses never set a cookie has no jar at all (`None`), so it costs nothing there. Public
suffixes are not checked: a load test talks to its own services.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# An expiry for session cookies: far enough never to come, still an int.
_SESSION: int = 1 << 62


@dataclass(slots=True)
class Cookie:
    """One stored cookie."""

    name: str
    value: str
    domain: str  # lower-cased, without a leading dot
    path: str
    host_only: bool
    secure: bool
    expires: float  # epoch seconds; `_SESSION` for a session cookie


class CookieJar:
    """The cookies of one virtual user."""

    __slots__ = ("_cookies",)

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}

    def __len__(self) -> int:
        return len(self._cookies)

    def copy(self) -> CookieJar:
        """A jar holding copies of these cookies (setup's jar seeds each user with one)."""
        jar = CookieJar()
        for key, cookie in self._cookies.items():
            jar._cookies[key] = Cookie(
                cookie.name,
                cookie.value,
                cookie.domain,
                cookie.path,
                cookie.host_only,
                cookie.secure,
                cookie.expires,
            )
        return jar

    def store(self, fields: list[str], host: str, path: str, now: float | None = None) -> None:
        """Keep the cookies of these `Set-Cookie` values, sent by `host` for a request to `path`."""
        now = time.time() if now is None else now
        host = host.lower()
        for field in fields:
            cookie = parse_set_cookie(field, host, path, now)
            if cookie is None:
                continue
            key = (cookie.domain, cookie.path, cookie.name)
            if cookie.expires <= now:
                self._cookies.pop(key, None)
            else:
                self._cookies[key] = cookie

    def value(self, name: str) -> str | None:
        """The value of a stored cookie named `name` (the most recently stored), or None."""
        found = None
        for cookie in self._cookies.values():
            if cookie.name == name:
                found = cookie.value
        return found

    def values(self) -> list[str]:
        """Every stored value (they are secrets wherever loadlens writes)."""
        return [cookie.value for cookie in self._cookies.values()]

    def header_for(
        self, host: str, path: str, secure: bool, now: float | None = None
    ) -> str | None:
        """The `Cookie` header value for a request, or None when no cookie matches."""
        now = time.time() if now is None else now
        host = host.lower()
        chosen: list[Cookie] = []
        expired: list[tuple[str, str, str]] = []
        for key, cookie in self._cookies.items():
            if cookie.expires <= now:
                expired.append(key)
                continue
            if cookie.secure and not secure:
                continue
            if cookie.host_only:
                if host != cookie.domain:
                    continue
            elif not domain_matches(host, cookie.domain):
                continue
            if not path_matches(path, cookie.path):
                continue
            chosen.append(cookie)
        for key in expired:
            del self._cookies[key]
        if not chosen:
            return None
        chosen.sort(key=lambda c: len(c.path), reverse=True)
        return "; ".join(f"{c.name}={c.value}" for c in chosen)


def parse_set_cookie(field: str, host: str, request_path: str, now: float) -> Cookie | None:
    """The cookie of one `Set-Cookie` value (RFC 6265 section 5.2), or None to ignore it."""
    pair, _, rest = field.partition(";")
    name, equals, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not equals or not name:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    domain = ""
    path = ""
    secure = False
    expires: float = _SESSION
    max_age: float | None = None
    for attribute in rest.split(";"):
        key, _, attr_value = attribute.partition("=")
        key, attr_value = key.strip().lower(), attr_value.strip()
        if key == "domain" and attr_value:
            domain = attr_value.lstrip(".").lower()
        elif key == "path" and attr_value.startswith("/"):
            path = attr_value
        elif key == "secure":
            secure = True
        elif key == "max-age":
            try:
                seconds = int(attr_value)
            except ValueError:
                continue
            max_age = now + seconds if seconds > 0 else 0.0
        elif key == "expires":
            try:
                expires = parsedate_to_datetime(attr_value).timestamp()
            except (TypeError, ValueError, IndexError):
                continue
    if max_age is not None:
        expires = max_age
    host_only = not domain
    if host_only:
        domain = host
    elif not domain_matches(host, domain):
        return None  # a host may not set cookies for another domain
    return Cookie(
        name, value, domain, path or default_path(request_path), host_only, secure, expires
    )


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 section 5.1.3: `host` is `domain` or a name under it (never an IP's suffix)."""
    if host == domain:
        return True
    return host.endswith("." + domain) and not host.replace(".", "").isdigit()


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 section 5.1.4: the cookie's path is the request path or a `/` prefix of it."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def default_path(request_path: str) -> str:
    """RFC 6265 section 5.1.4: the directory of the request path (`/a/b` → `/a`)."""
    if not request_path.startswith("/"):
        return "/"
    cut = request_path.rfind("/")
    return "/" if cut <= 0 else request_path[:cut]
