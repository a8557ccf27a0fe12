"""What can happen to one request, as stable names recorded in counters and results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache


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
    MISSING_VARIABLE = "missing_variable"  # not sent: a variable it needs has no value;
    # detail: `VAR@STEP` (STEP: the step whose capture should have set it) or `VAR`
    UNSENDABLE = "unsendable"  # not sent: a value cannot be written where the request puts
    # it (CR or LF in a header, text outside Latin-1); detail: the variable, when known
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


_KINDS = {kind.value: kind for kind in OutcomeKind}
_STATUS_KINDS = (OutcomeKind.OK, OutcomeKind.STATUS)


@dataclass(frozen=True, slots=True)
class Outcome:
    """An outcome key read back as a typed value: the one place outcome keys are parsed."""

    kind: OutcomeKind
    status: int | None = None  # ok / status: the HTTP status
    detail: str = ""  # error: the ErrorKind's value; check_failed: the check's name
    variable: str = ""  # capture_failed / missing_variable / unsendable: the variable
    step: str = ""  # missing_variable: the step whose capture should have set it, if known

    @property
    def key(self) -> str:
        """The text form, as counters and result.json key it."""
        if self.status is not None:
            return outcome_key(self.kind, self.status)
        if self.kind is OutcomeKind.MISSING_VARIABLE and self.step:
            return outcome_key(self.kind, f"{self.variable}@{self.step}")
        return outcome_key(self.kind, self.variable or self.detail or None)

    @staticmethod
    def parse(key: str) -> Outcome | None:
        """The outcome of a key; None for a key no version of loadlens writes."""
        return _parse(key)

    @property
    def is_success(self) -> bool:
        """An expected status whose checks and captures passed."""
        return self.kind is OutcomeKind.OK

    @property
    def is_server_error(self) -> bool:
        """An unexpected 5xx."""
        return self.kind is OutcomeKind.STATUS and self.status is not None and self.status >= 500

    @property
    def is_client_error(self) -> bool:
        """An unexpected 4xx (429 excluded: rate limiting is policy)."""
        return (
            self.kind is OutcomeKind.STATUS
            and self.status is not None
            and 400 <= self.status < 500
            and self.status != 429
        )

    @property
    def is_script_problem(self) -> bool:
        """A request the script could not build or judge as success by its own rules."""
        return self.kind in (
            OutcomeKind.CAPTURE_FAILED,
            OutcomeKind.MISSING_VARIABLE,
            OutcomeKind.UNSENDABLE,
            OutcomeKind.CHECK_FAILED,
        )


@lru_cache(maxsize=4096)
def _parse(key: str) -> Outcome | None:
    head, colon, detail = key.partition(":")
    kind = _KINDS.get(head)
    if kind is None:
        return None
    if kind in _STATUS_KINDS:
        if not colon:
            return Outcome(kind)
        return Outcome(kind, status=int(detail)) if detail.isdigit() else None
    if kind in (OutcomeKind.CAPTURE_FAILED, OutcomeKind.UNSENDABLE):
        return Outcome(kind, variable=detail)
    if kind is OutcomeKind.MISSING_VARIABLE:
        variable, _, step = detail.partition("@")
        return Outcome(kind, variable=variable, step=step)
    return Outcome(kind, detail=detail)


def capture_failed_key(variable: str) -> str:
    """`capture_failed:VAR`."""
    return Outcome(OutcomeKind.CAPTURE_FAILED, variable=variable).key


def missing_variable_key(variable: str, step: str) -> str:
    """`missing_variable:VAR@STEP` (`missing_variable:VAR` when no step is known)."""
    return Outcome(OutcomeKind.MISSING_VARIABLE, variable=variable, step=step).key


def unsendable_key(variable: str) -> str:
    """`unsendable:VAR` (`unsendable` when no variable is known)."""
    return Outcome(OutcomeKind.UNSENDABLE, variable=variable).key
