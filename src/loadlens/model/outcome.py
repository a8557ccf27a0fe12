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
    OTHER = "other"


class OutcomeKind(enum.StrEnum):
    """The class of a request's outcome; the full outcome key adds a detail (`status:404`)."""

    OK = "ok"  # a response whose status was expected and whose checks passed
    STATUS = "status"  # a response whose status was not expected; detail: the status code
    TRANSPORT = "error"  # no response; detail: the ErrorKind
    CHECK_FAILED = "check_failed"  # expected status, but a named check failed; detail: check
    CAPTURE_FAILED = "capture_failed"  # a capture found nothing; detail: the variable
    MISSING_VARIABLE = "missing_variable"  # not sent: a variable it needs has no value
    CANCELLED = "cancelled"  # in flight when the run was stopped and the grace ran out


def outcome_key(kind: OutcomeKind, detail: str | int | None = None) -> str:
    """The counter key of an outcome: `ok`, `status:404`, `error:reset`, `missing_variable:id`."""
    return kind.value if detail is None else f"{kind.value}:{detail}"


def is_success_key(key: str) -> bool:
    """Whether an outcome key counts as a success."""
    return key == OutcomeKind.OK.value
