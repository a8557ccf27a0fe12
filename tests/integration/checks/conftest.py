from __future__ import annotations

import os

import pytest

PG_ENV = "LOADLENS_TEST_PG_URL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs PostgreSQL at $LOADLENS_TEST_PG_URL")


@pytest.fixture
def pg_url() -> str:
    """The test PostgreSQL URL; a missing one fails the test (CI always starts PostgreSQL)."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(f'{PG_ENV} is not set: run `eval "$(.ci/postgres.sh start)"` first')
    return url
