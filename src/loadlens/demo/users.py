"""Users CRUD, with a read cache in front of GET /users/{id}.

Ids look like `user-<int>`; the integer is the row id. With the `id-format` fault, POST /users
answers with an id in another format (`doc_<8 hex>`), as a create path that bypassed the model
layer did in the report, so reads and updates of freshly created users 404.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadlens.demo.cache import Cache
from loadlens.demo.db import ConnectionPool
from loadlens.demo.web import ClientError, Endpoints, limit_param, read_json

USER_ID = re.compile(r"user-(\d{1,18})")
_COLUMNS = "id, name, email, created_at"

Row = tuple[int, str, str | None, float]


def render(row: Row) -> dict[str, Any]:
    """A user row as its JSON representation."""
    number, name, email, created_at = row
    return {"id": f"user-{number}", "name": name, "email": email, "created_at": created_at}


def parse_id(user_id: str) -> int:
    """The row id behind `user-<int>`, or a 404: no user can have any other id."""
    match = USER_ID.fullmatch(user_id)
    if match is None:
        raise ClientError(404, f"user {user_id} not found")
    return int(match.group(1))


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ClientError(400, f"{name} must be a string")
    return value


class Users:
    """The /users endpoints."""

    def __init__(self, pool: ConnectionPool, cache: Cache, *, id_format_fault: bool) -> None:
        self._pool = pool
        self._cache = cache
        self._id_format_fault = id_format_fault
        # Bumped by every write: a read that started before a write must not cache its row.
        self._generation = 0

    def routes(self, endpoints: Endpoints) -> list[Route]:
        """The routes, each wrapped by `endpoints`."""
        return [
            Route("/users", endpoints.wrap("POST /users", self.create), methods=["POST"]),
            Route("/users", endpoints.wrap("GET /users", self.page), methods=["GET"]),
            Route("/users/{id}", endpoints.wrap("GET /users/{id}", self.get), methods=["GET"]),
            Route("/users/{id}", endpoints.wrap("PUT /users/{id}", self.update), methods=["PUT"]),
            Route(
                "/users/{id}",
                endpoints.wrap("DELETE /users/{id}", self.delete),
                methods=["DELETE"],
            ),
        ]

    async def create(self, request: Request) -> Response:
        """POST /users {name, email?} → 201 with the new user."""
        body = await read_json(request)
        name = _optional_str(body, "name")
        if not name:
            raise ClientError(400, "name is required")
        email = _optional_str(body, "email")
        created_at = time.time()

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO users (name, email, created_at) VALUES (?, ?, ?)",
                (name, email, created_at),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        user = render((await self._pool.run(insert), name, email, created_at))
        if self._id_format_fault:
            user["id"] = f"doc_{secrets.token_hex(4)}"
        return JSONResponse(user, status_code=201)

    async def get(self, request: Request) -> Response:
        """GET /users/{id} → 200 from the cache or the database, or 404."""
        user_id: str = request.path_params["id"]
        number = parse_id(user_id)
        body = self._cache.get(user_id)
        if body is None:
            generation = self._generation
            row = await self._pool.run(
                lambda conn: conn.execute(
                    f"SELECT {_COLUMNS} FROM users WHERE id = ?", (number,)
                ).fetchone()
            )
            if row is None:
                raise ClientError(404, f"user {user_id} not found")
            body = json.dumps(render(row)).encode()
            if generation == self._generation:
                self._cache.put(user_id, body)
        return Response(body, media_type="application/json")

    async def update(self, request: Request) -> Response:
        """PUT /users/{id} {name?, email?} → 200 with the user, or 404."""
        user_id: str = request.path_params["id"]
        number = parse_id(user_id)
        body = await read_json(request)
        changes = {key: _optional_str(body, key) for key in ("name", "email") if key in body}
        if "name" in changes and not changes["name"]:
            raise ClientError(400, "name must not be empty")

        def write(conn: sqlite3.Connection) -> Row | None:
            for column, value in changes.items():
                conn.execute(f"UPDATE users SET {column} = ? WHERE id = ?", (value, number))
            row: Row | None = conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE id = ?", (number,)
            ).fetchone()
            return row

        row = await self._pool.run(write)
        self._forget(user_id)
        if row is None:
            raise ClientError(404, f"user {user_id} not found")
        return JSONResponse(render(row))

    async def delete(self, request: Request) -> Response:
        """DELETE /users/{id} → 204, or 404."""
        user_id: str = request.path_params["id"]
        number = parse_id(user_id)
        deleted = await self._pool.run(
            lambda conn: conn.execute("DELETE FROM users WHERE id = ?", (number,)).rowcount
        )
        self._forget(user_id)
        if not deleted:
            raise ClientError(404, f"user {user_id} not found")
        return Response(status_code=204)

    async def page(self, request: Request) -> Response:
        """GET /users?limit=&cursor= → {items, next_cursor}; the cursor is the last id seen."""
        limit = limit_param(request)
        cursor = request.query_params.get("cursor")
        after = -1
        if cursor:
            match = USER_ID.fullmatch(cursor)
            if match is None:
                raise ClientError(400, f"invalid cursor: {cursor!r} is not a user id")
            after = int(match.group(1))
        rows: list[Row] = await self._pool.run(
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit + 1),
            ).fetchall()
        )
        items = [render(row) for row in rows[:limit]]
        next_cursor = items[-1]["id"] if len(rows) > limit else None
        return JSONResponse({"items": items, "next_cursor": next_cursor})

    def _forget(self, user_id: str) -> None:
        self._generation += 1
        self._cache.invalidate(user_id)
