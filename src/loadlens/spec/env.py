"""`${env:NAME}` references: substituted from the environment when a scenario is loaded.

An env value is a secret, redacted wherever loadlens writes, when its name says so (it contains
one of `SECRET_NAME_WORDS`, in any case: `API_TOKEN`, `db_password`, `SESSION_ID`) or its use
does (it is sent in a sensitive header such as Authorization or Cookie). Other values are
settings (`USERS=100`, `HOST=example.org`): masking them would hide every "100" in the evidence
and protect nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from loadlens.model.redaction import SENSITIVE_HEADERS, request_steps
from loadlens.model.scenario import Scenario
from loadlens.model.template import Template

_ENV_REF = re.compile(r"\$\{env:([^}]*)\}")

# A variable whose name holds one of these words holds a credential.
SECRET_NAME_WORDS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "COOKIE",
    "SESSION",
    "PRIVATE",
    "SIGNATURE",
    "BEARER",
    "JWT",
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says that it holds a secret."""
    upper = name.upper()
    return any(word in upper for word in SECRET_NAME_WORDS)


@dataclass(slots=True)
class EnvSubstitution:
    """Substitutes `${env:NAME}` in strings; collects the values used and the names missing."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    secrets: set[str] = field(default_factory=set)  # values whose names say they are secret
    values: set[str] = field(default_factory=set)  # every value substituted

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
                self.values.add(value)
                if is_secret_name(name):
                    self.secrets.add(value)
            return value

        return _ENV_REF.sub(replace, text), missing

    def secrets_of(self, scenario: Scenario) -> frozenset[str]:
        """The secrets among the values substituted into `scenario`: by name, or by use in a
        sensitive header's text."""
        sent = [_literal(t) for name, t in _headers(scenario) if name in SENSITIVE_HEADERS]
        used = {v for v in self.values if any(_holds(text, v) for text in sent)}
        return frozenset(self.secrets | used)


def _holds(text: str, value: str) -> bool:
    """Whether `value` stands in `text` on its own (`Bearer V`, `sid=V;`), not inside a word:
    `USERS=100` is not made a secret by a header `Bearer abc100def`."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None


def _literal(template: Template) -> str:
    return "".join(part for part in template.parts if isinstance(part, str))


def _headers(scenario: Scenario) -> list[tuple[str, Template]]:
    """Every header a scenario sends: its defaults, and those of each request."""
    steps = [*scenario.setup, *scenario.teardown, *(s for f in scenario.flows for s in f.steps)]
    headers = list(scenario.headers)
    for step in request_steps(steps):
        headers.extend(step.request.headers)
    return headers
