"""What can happen to one request, as stable names recorded in counters and results."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    """Why a request got no HTTP response. The values are stable: results and docs use them."""

    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    RESET = "reset"
    READ_TIMEOUT = "read_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    TLS = "tls"
    DNS = "dns"
    PROTOCOL = "protocol"
    CLOSED = "closed"  # the server closed the connection before a full response
    # A response came, but not one to judge: a redirect chain that went round in a circle or
    # past the request's `redirects` limit, a compressed body that does not decode.
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    DECODE = "decode"
    OTHER = "other"


class OutcomeKind(enum.StrEnum):
    """The class of a request's outcome; the full outcome key adds a detail (`status:404`)."""

    OK = "ok"  # an expected status whose checks and captures passed; detail: the status
    STATUS = "status"  # a response whose status was not expected; detail: the status code
    TRANSPORT = "error"  # no response; detail: the ErrorKind
    CHECK_FAILED = "check_failed"  # expected status, but a named check failed; detail: check
    CAPTURE_FAILED = "capture_failed"  # a capture found nothing; detail: the variable
    MISSING_VARIABLE = "missing_variable"  # not sent: a variable it needs has no value
    CANCELLED = "cancelled"  # in flight when the run was stopped and the grace ran out


def outcome_key(kind: OutcomeKind, detail: str | int | None = None) -> str:
    """The counter key of an outcome: `ok:201`, `status:404`, `error:reset`, `capture_failed:id`."""
    return kind.value if detail is None else f"{kind.value}:{detail}"


# Keys of every status, made once: the engine looks them up per request instead of formatting.
OK_KEYS = {status: f"ok:{status}" for status in range(100, 600)}
STATUS_KEYS = {status: f"status:{status}" for status in range(100, 600)}


def is_success_key(key: str) -> bool:
    """Whether an outcome key counts as a success (`ok` or `ok:STATUS`)."""
    return key.startswith("ok") and (len(key) == 2 or key[2] == ":")
