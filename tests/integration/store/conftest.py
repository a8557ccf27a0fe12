"""The PostgreSQL store tests need a server: `.ci/postgres.sh` starts one and prints the URL."""

from __future__ import annotations

import os

import pytest

PG_ENV = "LOADLENS_TEST_PG_URL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs a PostgreSQL server ($LOADLENS_TEST_PG_URL)"
    )


@pytest.fixture
def pg_url() -> str:
    """The URL of a throwaway PostgreSQL database; the test fails (never skips) without one."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        pytest.fail(
            f"{PG_ENV} is not set: start a throwaway server with `eval $(.ci/postgres.sh)`",
            pytrace=False,
        )
    return url
