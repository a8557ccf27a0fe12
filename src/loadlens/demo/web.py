"""What every demo endpoint shares: counting, rate limiting, JSON bodies and error responses.

Each route's endpoint is wrapped by `Endpoints.wrap`, which counts the request under its route
key ("METHOD /template") before anything else happens, so the counters are exact and already
up to date when the response leaves; then applies the rate limit; then maps the handler's
`ClientError` and SQLite errors to JSON error bodies. A plain ASGI middleware counts every
HTTP request, matched or not, as the total.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from loadlens.demo.ratelimit import RateLimiter

Handler = Callable[[Request], Awaitable[Response]]


class ClientError(Exception):
    """A request the service refuses: becomes `status` with `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response every endpoint uses."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientError(400, f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ClientError(400, "the JSON body must be an object")
    return body


def positive_int(value: object, name: str) -> int:
    """`value` as an int above zero (bools refused), or a 400 naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ClientError(400, f"{name} must be a positive integer, got {value!r}")
    return value


def limit_param(request: Request, default: int = 20, maximum: int = 100) -> int:
    """The `limit` query parameter, 1..maximum, or a 400."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise ClientError(400, f"invalid limit: {raw!r} is not an integer") from None
    if not 1 <= limit <= maximum:
        raise ClientError(400, f"invalid limit: {limit} is not between 1 and {maximum}")
    return limit


class RequestCounters:
    """Exact request counts: all HTTP requests, and those matched to each route key."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.total = 0
        self.by_route: dict[str, int] = dict.fromkeys(keys, 0)

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready data."""
        return {"total": self.total, "by_route": dict(self.by_route)}


class CountRequests:
    """ASGI middleware counting every HTTP request into `counters.total`."""

    def __init__(self, app: ASGIApp, counters: RequestCounters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.counters.total += 1
        await self.app(scope, receive, send)


class Endpoints:
    """Wraps handlers with counting, rate limiting and error mapping."""

    def __init__(self, counters: RequestCounters, limiter: RateLimiter) -> None:
        self._counters = counters
        self._limiter = limiter

    def wrap(self, key: str, handler: Handler, *, limited: bool = True) -> Handler:
        """`handler` counted under `key`, rate limited unless `limited` is False."""
        counters = self._counters
        counters.by_route.setdefault(key, 0)

        async def endpoint(request: Request) -> Response:
            counters.by_route[key] += 1
            remaining = None
            if limited:
                decision = self._limiter.take(_client_key(request))
                if not decision.allowed:
                    return error(
                        429,
                        "rate limit exceeded",
                        {"Retry-After": str(decision.retry_after_s), "RateLimit-Remaining": "0"},
                    )
                remaining = decision.remaining
            try:
                response = await handler(request)
            except ClientError as exc:
                response = error(exc.status, exc.message)
            except sqlite3.Error as exc:
                # Surfaced as the database said it, as the services in the reports did.
                response = error(500, str(exc))
            if remaining is not None:
                response.headers["RateLimit-Remaining"] = str(remaining)
            return response

        return endpoint


def _client_key(request: Request) -> str:
    client_id = request.headers.get("x-client-id")
    if client_id:
        return client_id
    return request.client.host if request.client else "unknown"
