"""SQL through SQLAlchemy, read-only where the database allows it, errors as redacted reasons.

Read-only: SQLite connections get `PRAGMA query_only = ON` before any statement; PostgreSQL and
MySQL transactions start with `SET TRANSACTION READ ONLY`. Every transaction is rolled back,
whatever the query did. Other databases run the query as given, still rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from loadlens.model.redaction import Redactor

CONNECT_TIMEOUT_S = 10
MAX_ROWS_READ = 100_000  # rows fetched beyond this are counted, not kept


class SqlError(Exception):
    """A query that could not run; the message is redacted and fit to show."""


def url_secrets(url: str) -> tuple[str, ...]:
    """The password inside an SQLAlchemy URL, so it can be masked wherever it appears."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return ()
    return (str(password),) if password else ()


_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


def masked_url(url: str) -> str:
    """`url` with its password as `***`, even when it cannot be parsed."""
    return _PASSWORD.sub(r"\1***@", url)


def url_problem(url: str) -> str | None:
    """Why `url` cannot reach a database, found without connecting: it cannot be parsed, its
    dialect is unknown, or its driver is not installed. None when it looks usable."""
    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
        dialect.import_dbapi()
    except ImportError as error:
        name = getattr(error, "name", None) or str(error)
        return f"the database driver `{name}` is not installed (pip install it)"
    except (ArgumentError, ValueError, SQLAlchemyError) as error:
        # SQLAlchemy quotes the whole URL, password included, in some of its messages
        return f"bad database URL: {str(error).replace(url, masked_url(url))}"
    return None


def probe(url: str, redactor: Redactor) -> None:
    """Connect and run `SELECT 1` read-only, or raise SqlError saying why not.

    An SQLite file that does not exist is an error here: connecting would create it empty.
    """
    parsed = make_url(url)
    database = parsed.database or ""
    is_file = database not in ("", ":memory:") and not database.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and is_file and not Path(database).exists():
        raise SqlError(f"no SQLite database at `{database}`")
    with read_only(url, redactor) as conn:
        try:
            conn.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            secrets = Redactor.of((*redactor.secrets, *url_secrets(url)))
            raise SqlError(secrets.text(_reason(error))) from None


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(parsed, connect_args=connect_args)
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only = ON")
            cursor.close()

    return engine


@contextmanager
def read_only(url: str, redactor: Redactor) -> Iterator[Connection]:
    """A connection inside a read-only transaction that is rolled back at the end."""
    redactor = Redactor.of((*redactor.secrets, *url_secrets(url)))
    try:
        engine = _engine(url)
    except (ArgumentError, ValueError, ImportError, SQLAlchemyError) as error:
        raise SqlError(redactor.text(f"bad database URL {url}: {error}")) from None
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                if engine.dialect.name in ("postgresql", "mysql", "mariadb"):
                    conn.execute(text("SET TRANSACTION READ ONLY"))
                yield conn
            finally:
                transaction.rollback()
    except SQLAlchemyError as error:
        raise SqlError(redactor.text(_reason(error))) from None
    finally:
        engine.dispose()


def fetch(
    conn: Connection, query: str, params: dict[str, Any] | None = None, limit: int = MAX_ROWS_READ
) -> tuple[list[str], list[Sequence[Any]], int]:
    """(columns, up to `limit` rows, total row count) of `query`."""
    statement = text(query)
    if params and "entities" in params:
        statement = statement.bindparams(bindparam("entities", expanding=True))
    result = conn.execute(statement, params or {})
    if not result.returns_rows:
        return [], [], 0
    columns = list(result.keys())
    rows: list[Sequence[Any]] = []
    total = 0
    for row in result:
        total += 1
        if len(rows) < limit:
            rows.append(tuple(row))
        if total >= MAX_ROWS_READ:
            break
    return columns, rows, total


def _reason(error: SQLAlchemyError) -> str:
    # The DBAPI's own message, without SQLAlchemy's link to its docs page.
    original = getattr(error, "orig", None)
    message = str(original) if original is not None else str(error)
    return " ".join(message.split("\n")[0:3]).strip() or type(error).__name__
