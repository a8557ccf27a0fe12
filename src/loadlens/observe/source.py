"""What every observer source offers the session, and how it fails."""

from __future__ import annotations

from typing import Protocol


class SourceError(Exception):
    """A sample that could not be taken (or only in part); the message is the reason."""

    def __init__(self, reason: str, *, partial: dict[str, float] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial or {}


class Source(Protocol):
    """One observer: `read` returns this sample's values or raises SourceError."""

    description: str
    names: list[str]  # the metric names it yields (declared, or seen so far)

    def read(self, now: float) -> dict[str, float]: ...
