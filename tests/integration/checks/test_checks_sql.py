"""SQL and HTTP invariants on SQLite, PostgreSQL and the demo service."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from checks_client import Client, burst
from sqlalchemy import create_engine, text

from loadlens.checks import run_invariants
from loadlens.demo import DemoServer
from loadlens.demo.db import DATABASE_NAME
from loadlens.model.integrity import InvariantKind, InvariantSpec, Moment
from loadlens.model.jsonpath import parse_jsonpath
from loadlens.model.observation import parse_expectation
from loadlens.model.redaction import Redactor

OVERBOOKED = InvariantSpec(
    name="no authorization overbooked",
    kind=InvariantKind.SQL_ROWS,
    db="sqlite:///{{ demo_db }}",
    query="SELECT id, total_units, used_units, scheduled_units FROM authorizations"
    " WHERE used_units + scheduled_units > total_units ORDER BY id",
)


def scalar(name: str, db: str, query: str, expect: str) -> InvariantSpec:
    return InvariantSpec(
        name,
        InvariantKind.SQL_SCALAR,
        db=db,
        query=query,
        expect_text=expect,
        expect=parse_expectation(expect),
    )


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    path = tmp_path / "bank.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
        conn.executemany(
            "INSERT INTO accounts VALUES (?, ?)",
            [(k, -k if k % 4 == 0 else k) for k in range(1, 41)],
        )
        conn.commit()
    return path


def test_sqlite_rows_are_violations_with_bounded_examples(accounts: Path) -> None:
    spec = InvariantSpec(
        "no negative balance",
        InvariantKind.SQL_ROWS,
        db=f"sqlite:///{accounts}",
        query="SELECT id, balance FROM accounts WHERE balance < 0 ORDER BY id",
        max_examples=3,
    )
    (result,) = run_invariants([spec])
    assert (result.passed, result.violations, result.error) == (False, 10, None)
    assert result.examples == (
        {"id": 4, "balance": -4},
        {"id": 8, "balance": -8},
        {"id": 12, "balance": -12},
    )
    assert result.kind == "sql" and result.when == "end"


def test_scalar_expectations_and_moments(accounts: Path) -> None:
    url = f"sqlite:///{accounts}"
    count = scalar("forty", url, "SELECT count(*) FROM accounts", "== 40")
    wrong = scalar("sum", url, "SELECT sum(balance) FROM accounts", "> 1000")
    staged = InvariantSpec(
        "staged",
        InvariantKind.SQL_ROWS,
        when=frozenset({Moment.EACH_STAGE}),
        db=url,
        query="SELECT 1 WHERE 0",
    )
    at_end = run_invariants([count, wrong, staged])
    assert [(r.name, r.passed) for r in at_end] == [("forty", True), ("sum", False)]
    assert at_end[1].examples[0]["expect"] == "> 1000"
    (after,) = run_invariants([count, wrong, staged], moment=Moment.EACH_STAGE, stage="ramp")
    assert (after.name, after.passed, after.when) == ("staged", True, "each_stage:ramp")


def test_sqlite_writes_are_refused(accounts: Path) -> None:
    spec = InvariantSpec(
        "sneaky",
        InvariantKind.SQL_ROWS,
        db=f"sqlite:///{accounts}",
        query="UPDATE accounts SET balance = 0",
    )
    (result,) = run_invariants([spec])
    assert not result.passed and result.error is not None
    assert "readonly" in result.error or "read-only" in result.error
    with closing(sqlite3.connect(accounts)) as conn:
        assert conn.execute("SELECT count(*) FROM accounts WHERE balance = 0").fetchone() == (0,)


def test_a_failing_connection_is_an_error_result_with_the_password_masked() -> None:
    spec = InvariantSpec(
        "down",
        InvariantKind.SQL_ROWS,
        db="postgresql+psycopg://app:hunter22@127.0.0.1:1/db",
        query="SELECT 1",
    )
    (result,) = run_invariants([spec], redactor=Redactor.of(["s3cret-token"]))
    assert not result.passed and result.error is not None
    assert "hunter22" not in result.error
    missing = run_invariants([OVERBOOKED])[0]
    assert missing.error == "no value for `{{ demo_db }}`: pass it as a variable (--var NAME=VALUE)"


@pytest.mark.postgres
def test_postgres_rows_scalars_and_read_only(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS stock"))
        conn.execute(text("CREATE TABLE stock (id int PRIMARY KEY, total int, used int)"))
        conn.execute(
            text(
                "INSERT INTO stock SELECT g, 10, CASE WHEN g % 5 = 0 THEN 11 ELSE 3 END"
                " FROM generate_series(1, 20) g"
            )
        )
    engine.dispose()
    rows = InvariantSpec(
        "not overused",
        InvariantKind.SQL_ROWS,
        db="{{ db }}",
        query="SELECT id, used, total FROM stock WHERE used > total ORDER BY id",
    )
    count = scalar("count", "{{ db }}", "SELECT count(*) FROM stock", ">= 20")
    write = InvariantSpec(
        "write",
        InvariantKind.SQL_ROWS,
        db="{{ db }}",
        query="UPDATE stock SET used = 0 RETURNING id",
    )
    over, counted, written = run_invariants([rows, count, write], variables={"db": pg_url})
    assert (over.violations, over.examples[0]) == (4, {"id": 5, "used": 11, "total": 10})
    assert counted.passed
    assert not written.passed and written.error is not None and "read-only" in written.error


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[list[DemoServer]]:
    servers: list[DemoServer] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.mark.parametrize("faults", [("no-lock",), ()])
def test_the_overbooking_invariant_on_the_demo(
    tmp_path: Path, start_demo: list[DemoServer], faults: tuple[str, ...]
) -> None:
    server = DemoServer(tmp_path / "demo", faults=faults)
    start_demo.append(server)
    url = server.start()
    with Client(url) as client:
        authorization = client.post("/authorizations", {"total_units": 50})[1]["id"]
    statuses = Counter(burst(url, f"/authorizations/{authorization}/reserve", {"units": 10}, 50))
    db = str(tmp_path / "demo" / DATABASE_NAME)
    users = InvariantSpec(
        "users have names",
        InvariantKind.HTTP,
        url="{{ target }}/users?limit=100",
        path=parse_jsonpath("$.items[*]"),
        expect_text="name != null",
        expect=parse_expectation("name != null"),
    )
    overbooked, named = run_invariants([OVERBOOKED, users], target=url, variables={"demo_db": db})
    assert named.passed and named.error is None
    if faults:
        assert not overbooked.passed and overbooked.violations >= 1, statuses
        example = overbooked.examples[0]
        assert example["id"] == authorization
        assert example["scheduled_units"] > example["total_units"] == 50  # type: ignore[operator]
    else:
        assert statuses == Counter({200: 5, 409: 45})
        assert overbooked.passed and overbooked.violations == 0 and overbooked.error is None
