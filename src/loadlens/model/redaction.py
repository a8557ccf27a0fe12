"""Redaction of secrets in anything loadlens writes: results, reports, logs, samples.

Secrets are the values of `${env:NAME}` substitutions, the values of sensitive headers
(Authorization, Cookie, tokens, API keys) and passwords in URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MASK = "***"

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-access-token",
    }
)

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:)[^/@\s]*(?P<at>@)")
_MIN_SECRET_LENGTH = 3  # shorter values would mask unrelated text everywhere


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks known secret values and sensitive fields."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Redactor:
        """A redactor for these values; the longest are replaced first."""
        kept = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def text(self, text: str) -> str:
        """The text with every secret value and URL password masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _URL_PASSWORD.sub(rf"\g<head>{MASK}\g<at>", text)

    def header(self, name: str, value: str) -> str:
        """A header's value as it may be written."""
        if name.lower() in SENSITIVE_HEADERS:
            return MASK
        return self.text(value)
