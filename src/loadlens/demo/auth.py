"""Login and token refresh.

Passwords are checked in a worker thread (PBKDF2 is CPU work and releases the GIL), without
holding a database connection. Refresh tokens are rows of a table with a UNIQUE token column,
rotated on every refresh. Access tokens are stateless: `<user id>.<expiry>.<signature>`.

Faults: `token-race` derives the refresh token from the user id and the user's login count,
with no randomness, and a login reads that count before checking the password and writes it
back after (a lost update): two logins of one user in flight at once read the same count,
insert the same token, and the second fails on the UNIQUE constraint, a 500 (as in the auth
report, whose tokens came from the user id and a one-second clock). Logins one after the other
never collide, however fast they follow each other, so the failures come from concurrency
alone. `slow-hash` is set up at seeding time (see `loadlens.demo.app`): some accounts' hashes
simply cost more to verify.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadlens.demo.db import ConnectionPool, immediate
from loadlens.demo.passwords import verify_password
from loadlens.demo.web import ClientError, Endpoints, read_json

ACCESS_TOKEN_TTL_S = 15 * 60


class Auth:
    """The /auth endpoints."""

    def __init__(self, pool: ConnectionPool, *, token_race_fault: bool) -> None:
        self._pool = pool
        self._secret = secrets.token_bytes(32)
        self._racy = token_race_fault
        # The `token-race` fault's state: logins per user, and a salt so that tokens of an
        # earlier run of the service (the same database) never collide with this one's.
        self._logins: dict[int, int] = {}
        self._salt = secrets.token_hex(8)

    def _refresh_token(self, user_id: int, count: int | None = None) -> str:
        """A new refresh token: random, or under the fault, derived from the login count
        (read now unless the caller read it earlier)."""
        if not self._racy:
            return secrets.token_urlsafe(32)
        if count is None:
            count = self._logins.get(user_id, 0)
        self._logins[user_id] = count + 1
        return hashlib.sha256(f"{self._salt}:{user_id}:{count}".encode()).hexdigest()

    def routes(self, endpoints: Endpoints) -> list[Route]:
        """The routes, each wrapped by `endpoints`."""
        return [
            Route("/auth/login", endpoints.wrap("POST /auth/login", self.login), methods=["POST"]),
            Route(
                "/auth/refresh",
                endpoints.wrap("POST /auth/refresh", self.refresh),
                methods=["POST"],
            ),
        ]

    async def login(self, request: Request) -> Response:
        """POST /auth/login {username, password} → 200 with tokens, or 401."""
        body = await read_json(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ClientError(400, "username and password are required strings")
        row: tuple[int, str | None] | None = await self._pool.run(
            lambda conn: conn.execute(
                "SELECT id, password_hash FROM users WHERE username = ?", (username,)
            ).fetchone()
        )
        user_id, encoded = row if row is not None else (0, None)
        count = self._logins.get(user_id, 0)  # the fault's read, long before its write
        if encoded is None or not await run_in_threadpool(verify_password, password, encoded):
            raise ClientError(401, "invalid username or password")
        token = self._refresh_token(user_id, count)
        created_at = time.time()
        await self._pool.run(
            lambda conn: conn.execute(
                "INSERT INTO refresh_tokens (token, user_id, created_at) VALUES (?, ?, ?)",
                (token, user_id, created_at),
            )
        )
        return JSONResponse(self._tokens(user_id, token))

    async def refresh(self, request: Request) -> Response:
        """POST /auth/refresh {refresh_token} → 200 with new tokens (the old one is spent)."""
        body = await read_json(request)
        old = body.get("refresh_token")
        if not isinstance(old, str):
            raise ClientError(400, "refresh_token is a required string")

        def rotate(conn: sqlite3.Connection) -> tuple[int, str] | None:
            with immediate(conn):
                # fetchall, not fetchone: the statement must finish before the next one runs.
                rows = conn.execute(
                    "DELETE FROM refresh_tokens WHERE token = ? RETURNING user_id", (old,)
                ).fetchall()
                if not rows:
                    return None
                user_id: int = rows[0][0]
                new = self._refresh_token(user_id)
                conn.execute(
                    "INSERT INTO refresh_tokens (token, user_id, created_at) VALUES (?, ?, ?)",
                    (new, user_id, time.time()),
                )
                return user_id, new

        rotated = await self._pool.run(rotate)
        if rotated is None:
            raise ClientError(401, "invalid refresh token")
        return JSONResponse(self._tokens(*rotated))

    def _tokens(self, user_id: int, refresh_token: str) -> dict[str, object]:
        expires = int(time.time()) + ACCESS_TOKEN_TTL_S
        claims = f"user-{user_id}.{expires}"
        signature = hmac.new(self._secret, claims.encode(), hashlib.sha256).hexdigest()
        return {
            "access_token": f"{claims}.{signature}",
            "refresh_token": refresh_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_TTL_S,
            "user_id": f"user-{user_id}",
        }
