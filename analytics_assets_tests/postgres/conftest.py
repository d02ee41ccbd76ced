"""A fresh PostgreSQL database per test, on the loopback server `scripts/postgres.sh` starts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from analytics_assets_tests.conftest import configure

Query = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """DSN of a role that may create databases (ANALYTICS_TEST_POSTGRES_URL)."""
    url = os.environ.get("ANALYTICS_TEST_POSTGRES_URL", "").strip()
    if url:
        if not url.startswith(("postgresql://", "postgres://")) or "\n" in url:
            pytest.fail(f"ANALYTICS_TEST_POSTGRES_URL is not one postgresql:// DSN: {url!r}")
        return url
    if os.environ.get("CI"):
        pytest.fail("CI must set ANALYTICS_TEST_POSTGRES_URL (.ci/run runs scripts/postgres.sh)")
    pytest.skip("set ANALYTICS_TEST_POSTGRES_URL=$(scripts/postgres.sh) to run the Postgres tests")


def _admin(url: str, sql: str) -> None:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@pytest.fixture
def postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Query]:
    """Point the sync at a new database (ANALYTICS_DESTINATION=postgres); yield a query function."""
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    configure(ANALYTICS_DESTINATION="postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    yield query
    _admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)")
