"""URLs a scenario names (its target, absolute request URLs): checked as the client will read them.

The HTTP client (`loadlens.http.origin.Origin.parse`) refuses, at run time, a URL whose port
is out of range, whose IPv6 host is unclosed, that has no host, or that carries credentials;
the same rules are checked here so that `validate` (and `run`, which validates first) names
the file and line instead of failing mid-run.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

CREDENTIALS_HINT = (
    "credentials in a URL are not sent: put them in a header, e.g. "
    '`authorization: "Basic ${env:BASIC_AUTH}"` or `authorization: "Bearer ${env:TOKEN}"`'
)


_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


def url_problem(text: str, *, what: str = "URL") -> str | None:
    """Why absolute http(s) URL `text` cannot be used, or None."""
    shown = _PASSWORD.sub(r"\1***@", text)  # a problem is printed, maybe into a CI log
    parts, problem = _split(text, what, shown)
    if parts is None:
        return problem
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"bad {what} `{shown}`: expected `http://host[:port]` or `https://...`"
    if parts.username is not None or parts.password is not None:
        return f"bad {what} `{shown}`: {CREDENTIALS_HINT}"
    if not parts.hostname:
        return f"bad {what} `{shown}`: it has no host"
    if parts.port == 0:
        return f"bad {what} `{shown}`: port 0 is not a port to connect to (1-65535)"
    return None


def _split(text: str, what: str, shown: str) -> tuple[SplitResult | None, str]:
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 (reading it checks the range)
    except ValueError as error:
        reason = str(error)
        if "range" in reason.lower():
            reason = "the port is out of range 1-65535"
        elif "ipv6" in reason.lower():
            reason = "an IPv6 host is written in closed brackets, e.g. `http://[::1]:8000`"
        return None, f"bad {what} `{shown}`: {reason}"
    return parts, ""
