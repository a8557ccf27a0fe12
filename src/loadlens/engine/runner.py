"""Runs a user's steps: encode, send, judge, capture, record — the engine's per-request path.

Each request ends in exactly one outcome, recorded once: `ok:N` (expected status N),
`status:N` (unexpected status), `error:KIND` (no response), `check_failed:NAME`,
`capture_failed:VAR`, `missing_variable:VAR@STEP` (not sent) or `cancelled` (in flight when the
run stopped); `loadlens.model.outcome` makes the keys and reads them back (`Outcome.parse`).
Latency is recorded for every response; it runs from the actual send, or from an earlier instant
when the caller gives one (no executor does now: the open model's lateness is the generator's
and is recorded apart, see `loadlens.engine.open_model`).

Each request also feeds the diagnosis (`loadlens.metrics.diagnostics`): its feature tuple (a
constant for requests with nothing templated), its response timings, and, for failures only,
an error template; the first few requests of each outcome are kept as redacted samples. Their
text is redacted of the scenario's secrets and, when the scenario has secret variables, of the
values those hold now (the token this very response issued included).

A response body past the request's `max_body` arrives cut there (`Response.truncated`): checks
and captures see its first bytes, and the request gets the `body:truncated` feature.

Cookies and redirects (`loadlens.engine.user_agent`) are hooks here: `begin` adds the user's
cookies when the user has a jar, `settle` keeps the cookies a response sets, and a 3xx response
of a step that follows redirects goes to `follow` (or, for callback-driven users, to
`redirect`) before it is judged: the chain's final response is judged, timed from the chain's
first send.
"""

from __future__ import annotations

import asyncio
import json
import json.scanner
from collections.abc import Callable
from typing import Final

from loadlens.engine.compiled import (
    CompiledCapture,
    CompiledGroup,
    CompiledRequest,
    CompiledStep,
    CompiledThink,
    HeadMemo,
    Outgoing,
    check_passes,
)
from loadlens.engine.features import (
    InFlight,
    error_template,
    header_features,
    release,
    request_target,
    snippet,
    value_text,
)
from loadlens.engine.prepared import PreparedRequest
from loadlens.engine.user_agent import (
    Hop,
    RedirectChain,
    cookie_value,
    keep_cookies,
    with_cookies,
)
from loadlens.engine.variables import MissingVariableError, UserState
from loadlens.http import HttpClient, Origin, Response, TransportError
from loadlens.http.decoding import DecodeError, content_coding, decode_body
from loadlens.metrics.diagnostics import RequestSample
from loadlens.metrics.feature_keys import BODY_TRUNCATED
from loadlens.metrics.recorder import Recorder
from loadlens.model.header_text import unwritable
from loadlens.model.integrity import Ledger
from loadlens.model.outcome import (
    OutcomeKind,
    capture_failed_key,
    missing_variable_key,
    outcome_key,
    unsendable_key,
)
from loadlens.model.scenario import Extractor, ExtractorKind
from loadlens.model.template import VarRef

CANCELLED = "cancelled"
_NOT_JSON: Final = object()
# The C scanner `json.loads` ends in, called directly: `loads` on bytes first guesses the
# encoding and goes through three Python-level frames.
# (typeshed's stub of `make_scanner` asks for a scanner where it takes the decoder)
_scan_json: Final[Callable[[str, int], tuple[object, int]]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)
_JSON_SPACE: Final = " \t\n\r"
_partition: Final = bytes.partition
# Body bytes of a first read searched with its head rather than cut off first: a small body
# costs less to search than the copy of the head would.
_SCAN_BODY_BYTES: Final = 4096
_DECODE_FAILED: Final = "error:decode"  # a compressed body that does not decode
_RESENDS_BODY: Final = frozenset({307, 308})  # redirects that keep the method and the body


class StepRunner:
    """Executes compiled steps for any user of one worker."""

    def __init__(self, client: HttpClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder
        self.in_flight = 0  # requests waiting for a response
        self.sent = 0  # requests handed to the client, ever
        # Called after each response is recorded (the open executor dispatches due arrivals).
        self.after_response: Callable[[], None] | None = None
        # (variable, value) -> requests in flight using it, for `overlap:VAR`; no zero entries.
        self.entities: dict[tuple[str, str], InFlight] = {}
        self.ledger = Ledger()  # acknowledged writes, for reconciliation after the run
        # Values the response being judged was captured into secret variables, for its text.
        self._captured_secrets: list[str] = []

    async def run(
        self, steps: tuple[CompiledStep, ...], user: UserState, intended_ns: int | None = None
    ) -> None:
        """Run steps in order; only the first request is timed from `intended_ns`."""
        for step in steps:
            if type(step) is CompiledRequest:
                if step.repeat == 1:
                    await self.request(step, user, intended_ns)
                    intended_ns = None
                    continue
                for repetition in range(step.repeat):
                    if repetition:
                        user.draw_rows()
                    await self.request(step, user, intended_ns)
                    intended_ns = None
            elif isinstance(step, CompiledGroup):
                for repetition in range(step.repeat):
                    if repetition:
                        user.draw_rows()
                    await self.run(step.steps, user, intended_ns)
                    intended_ns = None
            else:
                assert isinstance(step, CompiledThink)
                low, high = step.low, step.high
                await asyncio.sleep(low if low == high else user.shared.rng.uniform(low, high))

    async def request(self, step: CompiledRequest, user: UserState, intended: int | None) -> None:
        """One request step, sent once (`run` calls it for each request of a step)."""
        outgoing = self.begin(step, user)
        if outgoing is None:
            return
        prepared = step.prepared
        try:
            response = await self.client.request(
                prepared.origin,
                outgoing[0],
                head=prepared.is_head,
                timeouts=prepared.timeouts,
                max_body=prepared.max_body,
                upload=outgoing[4],
            )
        except TransportError as error:
            self.fail(step, user, error, outgoing)
            return
        except asyncio.CancelledError:
            self.cancel(step, outgoing)
            raise
        except BaseException:
            self.in_flight -= 1
            release(self.entities, outgoing[2], ())
            raise
        chain = None
        if step.redirects and 300 <= response.status < 400:
            try:
                chain, response = await self.follow(step, user, response, outgoing)
            except TransportError as error:
                self.fail(step, user, error, outgoing)
                return
            except asyncio.CancelledError:
                self.cancel(step, outgoing)
                raise
            except BaseException:
                self.in_flight -= 1
                release(self.entities, outgoing[2], ())
                raise
        self.settle(step, user, intended, response, outgoing, chain)

    async def follow(
        self, step: CompiledRequest, user: UserState, response: Response, outgoing: Outgoing
    ) -> tuple[RedirectChain | None, Response]:
        """Follow `response`'s redirects; the chain (None if it was not one) and the final
        response. Raises TransportError when a hop gets none or the chain loops or runs long."""
        prepared = step.prepared
        chain = None
        origin, data = prepared.origin, outgoing[0]
        while True:
            if chain is None:
                chain = RedirectChain(prepared.origin, step.redirects, response.start_ns)
            hop = self.redirect(step, user, chain, response, origin, data)
            if hop is None:
                return (chain if chain.hops else None), response
            response = await self.client.request(
                hop.origin,
                hop.data,
                head=hop.head,
                timeouts=prepared.timeouts,
                max_body=prepared.max_body,
            )
            origin, data = hop.origin, hop.data

    def redirect(
        self,
        step: CompiledRequest,
        user: UserState,
        chain: RedirectChain,
        response: Response,
        origin: Origin,
        data: bytes,
    ) -> Hop | None:
        """The next hop after `response` (its cookies kept first), or None to judge it;
        raises TransportError when the chain loops or goes past its limit."""
        if step.cookies and _may_set_cookie(response):  # hops: no memo, their heads vary
            keep_cookies(user, response, origin, data)
        if step.prepared.multipart is not None and response.status in _RESENDS_BODY:
            return None  # following it would send the upload again: judged as it is
        hop = chain.next_hop(response, origin, data, user, step.cookies)
        if isinstance(hop, TransportError):
            raise hop
        return hop

    # The three parts of a request, for callers that send it themselves (`request` above, and
    # the callback-driven users of `loadlens.engine.drivers`): `begin` before sending, then
    # exactly one of `settle` (a response), `fail` (none) or `cancel` (the run stopped).

    def begin(self, step: CompiledRequest, user: UserState) -> Outgoing | None:
        """The step's request encoded for `user`, now counted in flight; None (and recorded)
        when a variable it needs is missing."""
        prepared = step.prepared
        outgoing = step.outgoing
        if outgoing is None:
            used: dict[VarRef, object] = {}
            upload = None
            try:
                if prepared.multipart is None:
                    data = prepared.encode_into(user, used)
                else:
                    data, upload = prepared.encode_upload(user, used)
            except MissingVariableError as missing:
                key = missing_variable_key(missing.name, missing.origin)
                self.recorder.count(prepared.operation, key)
                return None
            except ValueError as error:  # a value HTTP cannot carry there (UnicodeEncodeError too)
                self._note_unsendable(prepared, used, error)
                return None
            features, held = prepared.features.features(used, user.origin, self.entities)
            outgoing = (data, used, held, features, upload)
        if user.cookies is not None and step.cookies:
            jar = user.cookies
            data = with_cookies(outgoing[0], jar, prepared.origin)
            outgoing = (data, outgoing[1], outgoing[2], outgoing[3], outgoing[4])
        self.in_flight += 1
        self.sent += 1
        return outgoing

    def settle(
        self,
        step: CompiledRequest,
        user: UserState,
        intended: int | None,
        response: Response,
        outgoing: Outgoing,
        chain: RedirectChain | None = None,
    ) -> None:
        """Judge, capture and record a response (latency from `intended` when given, or from
        the first send of its redirect `chain`)."""
        data, used, held, features, _ = outgoing
        self.in_flight -= 1
        if chain is None and step.cookies and _sets_cookie(response, step.no_cookie):
            keep_cookies(user, response, step.prepared.origin, data)
        elif chain is not None:
            chain.finish(response)
            features = (*features, *chain.features)
            if intended is None or chain.start_ns < intended:
                intended = chain.start_ns
        if held:
            features = release(self.entities, held, features)
        start = response.start_ns
        if intended is not None and intended < start:
            start = intended
        latency_us = (response.end_ns - start) // 1000 or 1
        status = response.status
        if step.judged_by_status:
            outcome = step.by_status.get(status) or step.status_outcome(status)
        else:
            outcome = self._judge(step, response, user)
        if status >= 300:  # rate-limit headers are looked for on non-2xx responses only
            extra = header_features(response.headers)
            if extra:
                features = (*features, *extra)
        if response.truncated:
            features = (*features, BODY_TRUNCATED)
        prepared = step.prepared
        wanted = self.recorder.record_response(
            prepared.operation,
            latency_us,
            outcome,
            response.bytes_sent,
            response.bytes_received,
            features,
            response.start_ns,
            response.connected_ns,
            response.sent_ns,
            response.first_ns,
            response.end_ns,
            response.reused,
        )
        if step.ledger:
            self._acknowledge(step, status, user, used)
        if wanted or outcome[0] != "o":  # a sample still wanted, or a failure (not `ok:N`)
            self._note_failure(
                prepared, outcome, data, response, "", used, wanted, user, latency_us
            )
        if self.after_response is not None:
            self.after_response()

    def fail(
        self, step: CompiledRequest, user: UserState, error: TransportError, outgoing: Outgoing
    ) -> None:
        """Record a request that got no response; its captures are now missing."""
        data, used, held, features, _ = outgoing
        self.in_flight -= 1
        features = release(self.entities, held, features)
        prepared = step.prepared
        outcome = outcome_key(OutcomeKind.TRANSPORT, error.kind.value)
        wanted = self.recorder.count(prepared.operation, outcome, features)
        self._note_failure(prepared, outcome, data, None, str(error), used, wanted, user)
        self._mark_captures_missing(step, user, prepared.name)

    def cancel(self, step: CompiledRequest, outgoing: Outgoing) -> None:
        """Record a request still in flight when the run stopped waiting for it."""
        self.in_flight -= 1
        release(self.entities, outgoing[2], ())
        self.recorder.count(step.prepared.operation, CANCELLED)

    def _acknowledge(
        self, step: CompiledRequest, status: int, user: UserState, used: dict[VarRef, object] | None
    ) -> None:
        """Write what the service acknowledged into the ledger, with the values the request
        used (a pool value is drawn anew at each lookup, so it must come from `used`)."""

        def lookup(ref: VarRef) -> object:
            if used is not None and ref in used:
                return used[ref]
            return user.value_of(ref)

        for rule in step.ledger:
            try:
                entry = rule.entry(status, lookup)
            except MissingVariableError:
                continue
            if entry is not None:
                self.ledger.add(entry[0], rule.field, entry[1])

    def _note_unsendable(
        self, prepared: PreparedRequest, used: dict[VarRef, object], error: ValueError
    ) -> None:
        """Count a request that could not be written: a value it uses (most often one the
        service handed out, captured) holds what HTTP cannot carry where it goes. Not sent,
        like a request whose variable is missing; never a crash of the worker."""
        culprit = next((ref for ref, value in used.items() if unwritable(value_text(value))), None)
        name = culprit.display if culprit is not None else ""
        why = (
            "holds text outside Latin-1"
            if isinstance(error, UnicodeEncodeError)
            else "holds a character a request line or header cannot carry (CR, LF, NUL)"
        )
        where = f"the value of `{name}`" if name else "a value"
        key = unsendable_key(name)
        self.recorder.count(prepared.operation, key)
        self.recorder.error(prepared.operation, key, f"not sent: {where} {why}")

    def _note_failure(
        self,
        prepared: PreparedRequest,
        outcome: str,
        data: bytes,
        response: Response | None,
        message: str,
        used: dict[VarRef, object] | None,
        wanted: bool,
        user: UserState,
        latency_us: int | None = None,
    ) -> None:
        """A failure's error template, and a sample of the request when one is still wanted."""
        plan = prepared.features
        redactor = plan.redactor
        if redactor.variables:
            redactor = redactor.adding(self._secret_values(redactor.variables, used, user))
        if user.cookies is not None:  # sent in the `cookie` header: secrets wherever written
            redactor = redactor.adding(user.cookies.values())
        text = snippet(response.body, redactor) if response is not None else redactor.text(message)
        if not outcome.startswith("ok"):
            self.recorder.error(prepared.operation, outcome, error_template(text, redactor))
        if wanted:
            sample = RequestSample(
                outcome=outcome,
                method=prepared.method.decode("ascii"),
                target=redactor.text(request_target(data)),
                status=None if response is None else response.status,
                latency_ms=None if latency_us is None else latency_us / 1000,
                response=text,
                variables={} if used is None else plan.sample_variables(used),
            )
            self.recorder.sample(prepared.operation, sample)

    def _secret_values(
        self, names: frozenset[str], used: dict[VarRef, object] | None, user: UserState
    ) -> list[str]:
        """The values of secret variables a request's text may hold: those it sent, those its
        user holds now, and those its response was just captured into (pools too)."""
        values = [value_text(v) for ref, v in (used or {}).items() if ref.display in names]
        values.extend(value_text(v) for name, v in user.variables.items() if name in names)
        values.extend(self._captured_secrets)
        self._captured_secrets = []
        return values

    def _judge(self, step: CompiledRequest, response: Response, user: UserState) -> str:
        status = response.status
        ok = step.by_status.get(status) or step.status_outcome(status)
        if not ok.startswith("ok"):
            self._mark_captures_missing(step, user, step.prepared.name)
            return ok
        body = response.body
        if step.decode and _may_hold_coding(response.raw_head, step.no_coding):
            # One search first (`Transfer-Encoding` matches it too): the field is parsed only
            # when the head may hold it; see `_may_set_cookie` for the spellings found.
            coding = content_coding(response)
            if coding is not None:
                try:
                    body = _decoded(response, coding, step.prepared.max_body)
                except DecodeError:
                    self._mark_captures_missing(step, user, step.prepared.name)
                    return _DECODE_FAILED
                self.recorder.decoded(step.prepared.operation, len(body))
        document = _parse_json(body) if step.needs_json else _NOT_JSON
        outcome = ok
        for compiled in step.checks:
            check = compiled.check
            found, value = _extract_check(check.extractor, document, response, user)
            text = body.decode("utf-8", "replace") if check.extractor is None else ""
            if not check_passes(check, found, value, text) and outcome == ok:
                outcome = compiled.outcome
        secret = step.prepared.features.redactor.variables
        fresh: list[str] | None = None  # made only for a step with secret captures
        for capture in step.captures:
            values = _apply_capture(capture, document, response, user, body)
            if not values and outcome == ok:
                outcome = capture_failed_key(capture.key)
            if secret and capture.key in secret:
                fresh = [*(fresh or ()), *(value_text(v) for v in values)]
        if fresh is not None:
            self._captured_secrets = fresh  # replaced, never grown: bounded by one response
        return outcome

    @staticmethod
    def _mark_captures_missing(step: CompiledRequest, user: UserState, name: str) -> None:
        for capture in step.captures:
            if not capture.capture.into_pool:
                user.mark_missing(capture.key, name)


def _sets_cookie(response: Response, memo: HeadMemo) -> bool:
    """`_may_set_cookie`, answered by one comparison when the first read is the same bytes as
    the last one of the step that was searched and held no `Set-Cookie` (see `HeadMemo`)."""
    raw = response.raw_head
    if raw == memo.searched:
        return False
    if _may_set_cookie(response):
        return True
    memo.searched = raw
    return False


def _may_hold_coding(raw: bytes, memo: HeadMemo) -> bool:
    """Whether a first read may hold a `Content-Encoding` field, searched as `_sets_cookie`."""
    if raw == memo.searched:
        return False
    if len(_partition(raw, b"ncoding:")[1]) != 0:
        return True
    memo.searched = raw
    return False


def _may_set_cookie(response: Response) -> bool:
    """Whether a response's head may hold a `Set-Cookie` field (a false yes costs a parse only).

    It runs for every response, so it is one search, compiled here: `partition` takes its
    argument directly (`find` parses an argument tuple; `in` first tries its argument as an
    int and raises and clears a TypeError), about 2,000 instructions fewer per response than
    `find` for two spellings (callgrind). The spellings found are `Set-Cookie` and
    `set-cookie` (any case but all capitals); a name in capitals is not seen.

    The raw head is the response's first read, which may hold much of its body: the search
    covers at most the heads and `_SCAN_BODY_BYTES` of body, never a whole large first read.
    """
    raw = response.raw_head
    size = len(raw)
    if size <= _SCAN_BODY_BYTES:  # nearly every response: nothing to cut off, no bound to find
        return len(_partition(raw, b"ookie:")[1]) != 0
    if response.bytes_received == size:  # the whole response came in this one read
        end = size - len(response.body)  # at least where the heads end (chunk framing, a cut)
    else:
        end = raw.find(b"\r\n\r\n") + 4
        if end < 4 or raw[9:10] == b"1":  # bare-LF heads, or a 1xx head before the final one
            end = size
    if size - end > _SCAN_BODY_BYTES:
        raw = raw[:end]
    return len(_partition(raw, b"ookie:")[1]) != 0


def _parse_json(body: bytes) -> object:
    """The body as JSON, or _NOT_JSON: what `json.loads` accepts; UTF-8 without a BOM, nearly
    every body, straight to the scanner."""
    try:
        text = body.decode("utf-8").strip(_JSON_SPACE)
        value, end = _scan_json(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError):  # not JSON, or in another encoding `loads` detects
        pass
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _decoded(response: Response, coding: str, limit: int) -> bytes:
    """The body decoded, at most `limit` bytes (DecodeError when it does not decode)."""
    return decode_body(response.body, coding, limit, complete=not response.truncated)


def _extract_check(
    extractor: Extractor | None, document: object, response: Response, user: UserState
) -> tuple[bool, object]:
    if extractor is None:
        return False, None
    if extractor.kind is ExtractorKind.JSONPATH:
        if document is _NOT_JSON or extractor.jsonpath is None:
            return False, None
        return extractor.jsonpath.first(document)
    if extractor.kind is ExtractorKind.HEADER:
        value = response.header(extractor.expression)
        return value is not None, value
    if extractor.kind is ExtractorKind.STATUS:
        return True, response.status
    if extractor.kind is ExtractorKind.COOKIE:
        cookie = cookie_value(response, user, extractor.expression)
        return cookie is not None, cookie
    return False, None


def _apply_capture(
    compiled: CompiledCapture, document: object, response: Response, user: UserState, body: bytes
) -> list[object]:
    """Store what the capture finds and return it; [] (and the variable marked missing) when
    nothing."""
    capture = compiled.capture
    extractor = capture.extractor
    values: list[object]
    if extractor.kind is ExtractorKind.JSONPATH:
        path = extractor.jsonpath
        values = [] if document is _NOT_JSON or path is None else path.find(document)
    elif extractor.kind is ExtractorKind.REGEX:
        assert compiled.pattern is not None
        match = compiled.pattern.search(body.decode("utf-8", "replace"))
        values = [match.group(extractor.group)] if match else []
    elif extractor.kind is ExtractorKind.HEADER:
        header = response.header(extractor.expression)
        values = [] if header is None else [header]
    elif extractor.kind is ExtractorKind.COOKIE:
        cookie = cookie_value(response, user, extractor.expression)
        values = [] if cookie is None else [cookie]
    else:
        values = [response.status]
    if not values:
        if capture.into_pool:
            user.missing[compiled.key] = compiled.step
        else:
            user.mark_missing(compiled.key, compiled.step)
        return values
    if capture.into_pool:
        values = values if capture.all_matches else values[:1]
        for value in values:
            user.shared.add_to_pool(capture.variable, value)
    else:
        user.set_variable(capture.variable, values[0], compiled.step)
    return values
