"""D11: an unreachable target — no request of a stage got any HTTP response.

A stage whose requests all ended without a response (connection refused, timeouts, resets,
DNS or TLS errors) says nothing about the service's latency or capacity: the service was not
there. That is a NO-GO with its own name ("no response from 127.0.0.1:8000: 200 × connection
refused"), never a call to run longer. Requests never sent (a missing variable) or cancelled at
the end do not count either way; one response of any status means the target was reachable.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from loadlens.analysis.findings import common as c
from loadlens.metrics.result import RunResult, StageResult
from loadlens.model.finding import Attribution, Evidence, Finding, FindingClass, Severity
from loadlens.model.outcome import OutcomeKind

_TRANSPORT = OutcomeKind.TRANSPORT.value + ":"
_UNSENT = (
    OutcomeKind.MISSING_VARIABLE.value,
    OutcomeKind.UNSENDABLE.value,
    OutcomeKind.CANCELLED.value,
)


def find(result: RunResult) -> list[Finding]:
    """One finding naming the target and the stages in which it answered nothing."""
    silent = [stage for stage in result.stages if _errors(stage)]
    if not silent:
        return []
    address = _address(result.run.target)
    evidence = tuple(
        Evidence(
            "no_response",
            f"stage `{stage.info.name}`: {_describe(_errors(stage))}",
            float(sum(_errors(stage).values())),
        )
        for stage in silent
    )
    every: dict[str, int] = {}
    for stage in silent:
        for kind, n in _errors(stage).items():
            every[kind] = every.get(kind, 0) + n
    return [
        Finding(
            kind=FindingClass.UNREACHABLE,
            attribution=Attribution.SERVICE_BUG,
            severity=Severity.MAJOR,
            confidence=0.99,
            headline=f"UNREACHABLE — no response from {address}: {_describe(every)}",
            evidence=evidence,
            advice=f"check that the service runs and listens at {address} and that the "
            "scenario's `target` names it",
            stage=silent[0].info.name if len(silent) == 1 else None,
        )
    ]


def _errors(stage: StageResult) -> dict[str, int]:
    """A stage's transport errors by kind when none of its requests got a response, else {}."""
    errors: dict[str, int] = {}
    for key, n in stage.total.outcomes.items():
        if not n or key.split(":", 1)[0] in _UNSENT:
            continue
        if not key.startswith(_TRANSPORT):
            return {}  # a response (of any status), or a check on one: it was reachable
        kind = key.removeprefix(_TRANSPORT)
        errors[kind] = errors.get(kind, 0) + n
    return errors


def _describe(errors: dict[str, int]) -> str:
    ordered = sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{n:,} × {c.error_words(kind)}" for kind, n in ordered)


def _address(target: str) -> str:
    parts = urlsplit(target)
    return parts.netloc or target
