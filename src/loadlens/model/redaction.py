"""Redaction of secrets in anything loadlens writes: results, reports, logs, samples.

How it works
------------
Secrets are of two kinds. Values known when the scenario loads: the `${env:NAME}` values that
are secrets (see `loadlens.spec.env` for which), passwords in URLs, the values of sensitive
headers. And values known only while the run goes: whatever a variable holds that the scenario
marks secret (`secret: true` on its capture) or sends in a sensitive header (a token captured
from a login and sent back in `Authorization`); `secret_variables` names them once, at load,
and the engine adds their current values to a redactor (`adding`) where it writes text about a
request.

A request carries a secret in more forms than one: percent-encoded in its URL or query,
escaped in a JSON body, base64-encoded inside a Basic credential. `Redactor.of` computes every
form once per value, and `text` masks them all, longest first, so no form survives in part.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, quote_plus

from loadlens.model.scenario import GroupStep, RequestStep, Scenario, Step

MASK = "***"
SECRET_SHAPE = "<secret>"  # a secret's shape feature: no letter of it is kept

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
# What a template leaves as it is when it puts a value into a URL path (engine.prepared).
_URL_SAFE = "/:@!$&'()*+,;=-._~?"
# A base64 form shorter than this is too likely to occur by chance in unrelated text.
_MIN_BASE64_FORM = 6


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks known secret values (in every form a request may carry them) and sensitive fields."""

    secrets: tuple[str, ...] = ()  # the values, longest first
    # The variables whose values are secrets (`token`, `pool.tokens`, `accounts.password`).
    variables: frozenset[str] = frozenset()
    _forms: tuple[str, ...] = field(default=(), repr=False)  # every form of every value

    @classmethod
    def of(cls, secrets: Iterable[str], variables: Iterable[str] = ()) -> Redactor:
        """A redactor for these values and secret variables; the longest forms go first."""
        kept = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
        forms = {form for value in kept for form in encoded_forms(value)}
        return cls(
            tuple(sorted(kept, key=len, reverse=True)),
            frozenset(variables),
            tuple(sorted(forms, key=lambda form: (-len(form), form))),
        )

    def adding(self, values: Iterable[str]) -> Redactor:
        """This redactor with more secret values (those a run captured); itself if none is new.

        Called where a worker writes about a request, so the forms of a value are computed
        once per value (`encoded_forms` is cached), not once per call."""
        known = set(self.secrets)
        new = {v for v in values if len(v) >= _MIN_SECRET_LENGTH and v not in known}
        if not new:
            return self
        forms = set(self._forms).union(*(encoded_forms(value) for value in new))
        return Redactor(
            tuple(sorted((*self.secrets, *new), key=len, reverse=True)),
            self.variables,
            tuple(sorted(forms, key=lambda form: (-len(form), form))),
        )

    def text(self, text: str) -> str:
        """The text with every form of every secret value and URL password masked."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return _URL_PASSWORD.sub(rf"\g<head>{MASK}\g<at>", text)

    def for_shape(self, text: str) -> str:
        """The text with every form of every secret replaced by `<secret>`, before its shape
        is computed (the shape of `user-<secret>` keeps no letter of the secret)."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, SECRET_SHAPE)
        return text

    def header(self, name: str, value: str) -> str:
        """A header's value as it may be written."""
        if name.lower() in SENSITIVE_HEADERS:
            return MASK
        return self.text(value)


@lru_cache(maxsize=4096)  # bounded: a run may capture a new token per login
def encoded_forms(value: str) -> frozenset[str]:
    """The forms a value takes in a request: as it is, percent-encoded (in a path and in a
    query or form), JSON-escaped, and the parts of any base64 text that only it determines."""
    forms = {
        value,
        quote(value, safe=_URL_SAFE),
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        value.replace("/", "\\/"),  # JSON as some servers write it
    }
    forms.update(_base64_cores(value.encode()))
    return frozenset(form for form in forms if len(form) >= _MIN_SECRET_LENGTH)


def _base64_cores(data: bytes) -> Iterator[str]:
    """The characters of base64 text that depend on `data` alone, wherever it starts in the
    encoded bytes (three alignments), in the standard and the URL-safe alphabets.

    `user:s3cret` encodes to text that contains no encoding of `s3cret` on its own; but at each
    alignment (`s3cret` at offset 0, 1 or 2 modulo 3) the characters fed only by its bits are
    the same whatever surrounds it. Those are what a Basic credential carries of the secret.
    """
    for offset, dropped in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        if (offset + len(data)) % 3:
            encoded = encoded[:-1]  # its last character mixes in what follows the secret
        core = encoded[dropped:]
        if len(core) >= _MIN_BASE64_FORM:
            yield core
            yield core.replace("+", "-").replace("/", "_")


def secret_variables(scenario: Scenario) -> frozenset[str]:
    """The variables (as the scenario writes them: `token`, `pool.tokens`, `creds.password`)
    whose values are secrets: captured with `secret: true`, or sent in a sensitive header."""
    names: set[str] = set()
    for name, template in scenario.headers:
        if name in SENSITIVE_HEADERS:
            names.update(ref.display for ref in template.refs)
    for step in request_steps((*scenario.setup, *scenario.teardown)):
        _add_secrets_of(step, names)
    for flow in scenario.flows:
        for step in request_steps(flow.steps):
            _add_secrets_of(step, names)
    return frozenset(names)


def _add_secrets_of(step: RequestStep, names: set[str]) -> None:
    for capture in step.captures:
        if capture.secret:
            names.add(f"pool.{capture.variable}" if capture.into_pool else capture.variable)
    for name, template in step.request.headers:
        if name in SENSITIVE_HEADERS:
            names.update(ref.display for ref in template.refs)


def request_steps(steps: Iterable[Step]) -> Iterator[RequestStep]:
    """The request steps among `steps`, those inside groups included, in order."""
    for step in steps:
        if isinstance(step, RequestStep):
            yield step
        elif isinstance(step, GroupStep):
            yield from request_steps(step.steps)
