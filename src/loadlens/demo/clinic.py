"""Clinic resources: organizations, patients, and authorizations of service units.

An authorization has `total_units`; reserving moves units into `scheduled_units`, releasing
moves them back out, consuming moves them from scheduled to `used_units`. The invariant is
`used + scheduled <= total`. Each change is one `BEGIN IMMEDIATE` transaction (the write lock is
taken before the read), so concurrent reservations serialise and none can overbook; every
change is also written to `unit_events`, a ledger an SQL check can reconcile.

With the `no-lock` fault, a reservation reads, checks, waits a few milliseconds (the gap a
remote database or an ORM round trip would leave), then adds its units: concurrent requests all
pass the check against the same stale read, and the authorization ends up overbooked.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadlens.demo.db import ConnectionPool, immediate
from loadlens.demo.web import ClientError, Endpoints, Handler, positive_int, read_json

# The gap between read and write under no-lock: long enough that, with 8 pooled connections,
# concurrent reservations reliably interleave inside it, also on a busy host (at 5 ms, with one
# core of two kept busy, 50 concurrent reservations once ran one after another: no overbooking).
NO_LOCK_GAP_S = 0.025

_COLUMNS = "id, patient_id, total_units, used_units, scheduled_units"
Row = tuple[int, int | None, int, int, int]
Change = Callable[[sqlite3.Connection, int, int], Row]


def _render(row: Row) -> dict[str, Any]:
    number, patient_id, total, used, scheduled = row
    return {
        "id": number,
        "patient_id": patient_id,
        "total_units": total,
        "used_units": used,
        "scheduled_units": scheduled,
        "available_units": total - used - scheduled,
    }


def _path_id(request: Request) -> int:
    raw: str = request.path_params["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ClientError(404, f"authorization {raw} not found")
    return int(raw)


def _select(conn: sqlite3.Connection, number: int) -> Row:
    row: Row | None = conn.execute(
        f"SELECT {_COLUMNS} FROM authorizations WHERE id = ?", (number,)
    ).fetchone()
    if row is None:
        raise ClientError(404, f"authorization {number} not found")
    return row


def _record(conn: sqlite3.Connection, number: int, kind: str, units: int) -> None:
    conn.execute(
        "INSERT INTO unit_events (authorization_id, kind, units, created_at) VALUES (?, ?, ?, ?)",
        (number, kind, units, time.time()),
    )


def reserve(conn: sqlite3.Connection, number: int, units: int) -> Row:
    """Schedule `units` if they are available, in one transaction; 409 if they are not."""
    with immediate(conn):
        _, _, total, used, scheduled = _select(conn, number)
        if used + scheduled + units > total:
            raise ClientError(409, f"insufficient units: {total - used - scheduled} available")
        conn.execute(
            "UPDATE authorizations SET scheduled_units = scheduled_units + ? WHERE id = ?",
            (units, number),
        )
        _record(conn, number, "reserve", units)
        return _select(conn, number)


def reserve_without_lock(conn: sqlite3.Connection, number: int, units: int) -> Row:
    """The `no-lock` fault: check, pause, then write, with nothing holding the check true."""
    _, _, total, used, scheduled = _select(conn, number)
    if used + scheduled + units > total:
        raise ClientError(409, f"insufficient units: {total - used - scheduled} available")
    time.sleep(NO_LOCK_GAP_S)
    conn.execute(
        "UPDATE authorizations SET scheduled_units = scheduled_units + ? WHERE id = ?",
        (units, number),
    )
    _record(conn, number, "reserve", units)
    return _select(conn, number)


def release(conn: sqlite3.Connection, number: int, units: int) -> Row:
    """Unschedule `units`; 409 if fewer are scheduled."""
    with immediate(conn):
        scheduled = _select(conn, number)[4]
        if units > scheduled:
            raise ClientError(409, f"cannot release {units} units: {scheduled} scheduled")
        conn.execute(
            "UPDATE authorizations SET scheduled_units = scheduled_units - ? WHERE id = ?",
            (units, number),
        )
        _record(conn, number, "release", units)
        return _select(conn, number)


def consume(conn: sqlite3.Connection, number: int, units: int) -> Row:
    """Move `units` from scheduled to used; 409 if fewer are scheduled."""
    with immediate(conn):
        scheduled = _select(conn, number)[4]
        if units > scheduled:
            raise ClientError(409, f"cannot consume {units} units: {scheduled} scheduled")
        conn.execute(
            "UPDATE authorizations SET scheduled_units = scheduled_units - ?,"
            " used_units = used_units + ? WHERE id = ?",
            (units, units, number),
        )
        _record(conn, number, "consume", units)
        return _select(conn, number)


class Clinic:
    """The /organizations, /patients and /authorizations endpoints."""

    def __init__(self, pool: ConnectionPool, *, no_lock_fault: bool) -> None:
        self._pool = pool
        self._reserve = reserve_without_lock if no_lock_fault else reserve

    def routes(self, endpoints: Endpoints) -> list[Route]:
        """The routes, each wrapped by `endpoints`."""
        change: dict[str, Change] = {
            "reserve": self._reserve,
            "release": release,
            "consume": consume,
        }
        routes = [
            Route("/organizations", endpoints.wrap("GET /organizations", self.organizations)),
            Route("/patients/{id}", endpoints.wrap("GET /patients/{id}", self.patient)),
            Route(
                "/authorizations",
                endpoints.wrap("POST /authorizations", self.create),
                methods=["POST"],
            ),
            Route(
                "/authorizations/{id}",
                endpoints.wrap("GET /authorizations/{id}", self.get),
                methods=["GET"],
            ),
        ]
        for action, apply in change.items():
            path = f"/authorizations/{{id}}/{action}"
            handler = self._changer(apply)
            routes.append(Route(path, endpoints.wrap(f"POST {path}", handler), methods=["POST"]))
        return routes

    async def organizations(self, request: Request) -> Response:
        """GET /organizations → {items}."""
        rows = await self._pool.run(
            lambda conn: conn.execute("SELECT id, name FROM organizations ORDER BY id").fetchall()
        )
        return JSONResponse({"items": [{"id": i, "name": name} for i, name in rows]})

    async def patient(self, request: Request) -> Response:
        """GET /patients/{id} → the patient, or 404."""
        raw: str = request.path_params["id"]
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else -1
        row = await self._pool.run(
            lambda conn: conn.execute(
                "SELECT id, organization_id, name FROM patients WHERE id = ?", (number,)
            ).fetchone()
        )
        if row is None:
            raise ClientError(404, f"patient {raw} not found")
        return JSONResponse({"id": row[0], "organization_id": row[1], "name": row[2]})

    async def create(self, request: Request) -> Response:
        """POST /authorizations {patient_id?, total_units} → 201 with the authorization."""
        body = await read_json(request)
        total = positive_int(body.get("total_units"), "total_units")
        patient_id = body.get("patient_id")
        if patient_id is not None:
            patient_id = positive_int(patient_id, "patient_id")

        def insert(conn: sqlite3.Connection) -> Row:
            if (
                patient_id is not None
                and not conn.execute(
                    "SELECT 1 FROM patients WHERE id = ?", (patient_id,)
                ).fetchone()
            ):
                raise ClientError(404, f"patient {patient_id} not found")
            cursor = conn.execute(
                "INSERT INTO authorizations (patient_id, total_units) VALUES (?, ?)",
                (patient_id, total),
            )
            assert cursor.lastrowid is not None
            return (cursor.lastrowid, patient_id, total, 0, 0)

        return JSONResponse(_render(await self._pool.run(insert)), status_code=201)

    async def get(self, request: Request) -> Response:
        """GET /authorizations/{id} → the authorization, or 404."""
        number = _path_id(request)
        return JSONResponse(_render(await self._pool.run(lambda conn: _select(conn, number))))

    def _changer(self, apply: Change) -> Handler:
        async def change(request: Request) -> Response:
            number = _path_id(request)
            units = positive_int((await read_json(request)).get("units"), "units")
            row = await self._pool.run(lambda conn: apply(conn, number, units))
            return JSONResponse(_render(row))

        return change
