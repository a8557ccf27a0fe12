"""`${env:NAME}` references: substituted from the environment when a scenario is loaded.

Every substituted value is remembered as a secret, so reports and stored results can redact it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_ENV_REF = re.compile(r"\$\{env:([^}]*)\}")


@dataclass(slots=True)
class EnvSubstitution:
    """Substitutes `${env:NAME}` in strings; collects the secrets used and the names missing."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    secrets: set[str] = field(default_factory=set)

    def substitute(self, text: str) -> tuple[str, list[str]]:
        """`text` with every reference replaced, and the names that are not set."""
        if "${env:" not in text:
            return text, []
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            value = self.environ.get(name)
            if value is None:
                missing.append(name)
                return match.group(0)
            if value:
                self.secrets.add(value)
            return value

        return _ENV_REF.sub(replace, text), missing
