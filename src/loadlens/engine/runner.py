"""Runs a user's steps: encode, send, judge, capture, record — the engine's per-request path.

Each request ends in exactly one outcome, recorded once: `ok:N` (expected status N),
`status:N` (unexpected status), `error:KIND` (no response), `check_failed:NAME`,
`capture_failed:VAR`, `missing_variable:VAR@STEP` (not sent) or `cancelled` (in flight when the
run stopped). Latency is recorded for every response; it runs from the intended send time when
the caller gives one (open model), else from the actual send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from loadlens.engine.compiled import (
    CompiledCapture,
    CompiledGroup,
    CompiledRequest,
    CompiledStep,
    CompiledThink,
    check_passes,
)
from loadlens.engine.variables import MissingVariableError, UserState
from loadlens.http import HttpClient, Response, TransportError
from loadlens.metrics.recorder import Recorder
from loadlens.model.outcome import OK_KEYS, STATUS_KEYS
from loadlens.model.scenario import Extractor, ExtractorKind

CANCELLED = "cancelled"
_NOT_JSON = object()


class StepRunner:
    """Executes compiled steps for any user of one worker."""

    def __init__(self, client: HttpClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder
        self.in_flight = 0  # requests waiting for a response
        self.sent = 0  # requests handed to the client, ever
        # Called after each response is recorded (the open executor dispatches due arrivals).
        self.after_response: Callable[[], None] | None = None

    async def run(
        self, steps: tuple[CompiledStep, ...], user: UserState, intended_ns: int | None = None
    ) -> None:
        """Run steps in order; only the first request is timed from `intended_ns`."""
        for step in steps:
            if type(step) is CompiledRequest:
                if step.repeat == 1:
                    await self._request(step, user, intended_ns)
                    intended_ns = None
                    continue
                for repetition in range(step.repeat):
                    if repetition:
                        user.draw_rows()
                    await self._request(step, user, intended_ns)
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

    async def _request(self, step: CompiledRequest, user: UserState, intended: int | None) -> None:
        prepared = step.prepared
        op = prepared.operation
        recorder = self.recorder
        data = prepared.static
        if data is None:
            try:
                data = prepared.encode(user)
            except MissingVariableError as missing:
                recorder.count(op, f"missing_variable:{missing.outcome_detail}")
                return
        self.in_flight += 1
        self.sent += 1
        try:
            response = await self.client.request(
                prepared.origin, data, head=prepared.is_head, timeouts=prepared.timeouts
            )
        except TransportError as error:
            self.in_flight -= 1
            recorder.count(op, f"error:{error.kind.value}")
            self._mark_captures_missing(step, user, prepared.name)
            return
        except asyncio.CancelledError:
            self.in_flight -= 1
            recorder.count(op, CANCELLED)
            raise
        except BaseException:
            self.in_flight -= 1
            raise
        self.in_flight -= 1
        timings = response.timings
        start = timings.start_ns if intended is None else min(intended, timings.start_ns)
        latency_us = (timings.end_ns - start) // 1000 or 1
        if not step.captures and not step.checks:  # judged by status alone
            status = response.status
            if 200 <= status < 400 if step.statuses is None else status in step.statuses:
                outcome = OK_KEYS.get(status) or f"ok:{status}"
            else:
                outcome = STATUS_KEYS.get(status) or f"status:{status}"
        else:
            outcome = self._judge(step, response, user)
        recorder.record(op, latency_us, outcome, response.bytes_sent, response.bytes_received)
        if self.after_response is not None:
            self.after_response()

    def _judge(self, step: CompiledRequest, response: Response, user: UserState) -> str:
        status = response.status
        accepted = 200 <= status < 400 if step.statuses is None else status in step.statuses
        if not accepted:
            self._mark_captures_missing(step, user, step.prepared.name)
            return STATUS_KEYS.get(status) or f"status:{status}"
        ok = OK_KEYS.get(status) or f"ok:{status}"
        if not step.captures and not step.checks:
            return ok
        document = _parse_json(response.body) if step.needs_json else _NOT_JSON
        outcome = ok
        for compiled in step.checks:
            check = compiled.check
            found, value = _extract_check(check.extractor, document, response)
            text = response.body.decode("utf-8", "replace") if check.extractor is None else ""
            if not check_passes(check, found, value, text) and outcome == ok:
                outcome = compiled.outcome
        for capture in step.captures:
            if not _apply_capture(capture, document, response, user) and outcome == ok:
                outcome = f"capture_failed:{capture.key}"
        return outcome

    @staticmethod
    def _mark_captures_missing(step: CompiledRequest, user: UserState, name: str) -> None:
        for capture in step.captures:
            if not capture.capture.into_pool:
                user.mark_missing(capture.key, name)


def _parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _extract_check(
    extractor: Extractor | None, document: object, response: Response
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
    return False, None


def _apply_capture(
    compiled: CompiledCapture, document: object, response: Response, user: UserState
) -> bool:
    """Store what the capture finds; False (and the variable marked missing) when nothing."""
    capture = compiled.capture
    extractor = capture.extractor
    values: list[object]
    if extractor.kind is ExtractorKind.JSONPATH:
        path = extractor.jsonpath
        values = [] if document is _NOT_JSON or path is None else path.find(document)
    elif extractor.kind is ExtractorKind.REGEX:
        assert compiled.pattern is not None
        match = compiled.pattern.search(response.body.decode("utf-8", "replace"))
        values = [match.group(extractor.group)] if match else []
    elif extractor.kind is ExtractorKind.HEADER:
        header = response.header(extractor.expression)
        values = [] if header is None else [header]
    else:
        values = [response.status]
    if not values:
        if capture.into_pool:
            user.missing[compiled.key] = compiled.step
        else:
            user.mark_missing(compiled.key, compiled.step)
        return False
    if capture.into_pool:
        for value in values if capture.all_matches else values[:1]:
            user.shared.add_to_pool(capture.variable, value)
    else:
        user.set_variable(capture.variable, values[0])
    return True
