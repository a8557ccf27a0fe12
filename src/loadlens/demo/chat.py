"""Conversations and their messages, paged newest first by message id.

The cursor of GET /conversations/{id}/messages is a message id (an integer); anything else is a
400 naming the bad value, which is how the chat report's script bug (a timestamp sent as the
cursor) shows up as a clean, countable client error instead of a 500.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadlens.demo.db import ConnectionPool
from loadlens.demo.web import ClientError, Endpoints, limit_param, read_json

# A cursor is a message id: SQLite integers are 64-bit, so no message id is longer than this.
_MAX_CURSOR_DIGITS = 19


def _render(row: tuple[int, str, str, float]) -> dict[str, Any]:
    number, conversation_id, text, created_at = row
    return {
        "id": number,
        "conversation_id": conversation_id,
        "text": text,
        "created_at": created_at,
    }


def parse_cursor(raw: str) -> int:
    """A message id from the `cursor` query parameter, or a 400."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_CURSOR_DIGITS:
        raise ClientError(400, f"invalid cursor: {raw!r} is not a message id")
    return int(raw)


class Chat:
    """The /conversations endpoints."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def routes(self, endpoints: Endpoints) -> list[Route]:
        """The routes, each wrapped by `endpoints`."""
        path = "/conversations/{id}/messages"
        return [
            Route(path, endpoints.wrap(f"POST {path}", self.post), methods=["POST"]),
            Route(path, endpoints.wrap(f"GET {path}", self.history), methods=["GET"]),
        ]

    async def post(self, request: Request) -> Response:
        """POST /conversations/{id}/messages {text} → 201 with the message."""
        conversation_id: str = request.path_params["id"]
        text = (await read_json(request)).get("text")
        if not isinstance(text, str) or not text:
            raise ClientError(400, "text is a required, non-empty string")
        created_at = time.time()

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, text, created_at) VALUES (?, ?, ?)",
                (conversation_id, text, created_at),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        number = await self._pool.run(insert)
        return JSONResponse(_render((number, conversation_id, text, created_at)), status_code=201)

    async def history(self, request: Request) -> Response:
        """GET /conversations/{id}/messages?limit=&cursor= → {items, next_cursor}, newest first."""
        conversation_id: str = request.path_params["id"]
        limit = limit_param(request)
        raw = request.query_params.get("cursor")
        before = parse_cursor(raw) if raw else None
        rows = await self._pool.run(
            lambda conn: conn.execute(
                "SELECT id, conversation_id, text, created_at FROM messages"
                " WHERE conversation_id = ? AND (? IS NULL OR id < ?)"
                " ORDER BY id DESC LIMIT ?",
                (conversation_id, before, before, limit + 1),
            ).fetchall()
        )
        items = [_render(row) for row in rows[:limit]]
        next_cursor = items[-1]["id"] if len(rows) > limit else None
        return JSONResponse({"items": items, "next_cursor": next_cursor})
