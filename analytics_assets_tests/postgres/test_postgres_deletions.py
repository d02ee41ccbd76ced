"""Deletions reconciled on PostgreSQL: the same flags and models as on DuckDB."""

from __future__ import annotations

import os
from collections import Counter

import psycopg2

from analytics_assets.automation import FULL_REFRESH_CONFIG
from analytics_assets.schema import DELETED_AT
from analytics_assets_tests.conftest import Serve, run_sync, step_failure
from analytics_assets_tests.postgres.conftest import Query


def _flagged(query: Query, table: str) -> set[str]:
    rows = query(f"SELECT id FROM analytics_api.{table} WHERE {DELETED_AT} IS NOT NULL")
    return {row[0] for row in rows}


def test_deleted_records_are_flagged_and_leave_the_models_on_postgres(
    postgres: Query, serve: Serve
) -> None:
    server = serve(users=6, leads=250, campaigns=8)
    assert run_sync().success
    lead = next(lead for lead in server.records("leads") if lead["owner_id"])
    tag = server.records("tags")[0]["id"]
    server.delete("leads", lead["id"])
    server.delete("tags", tag)

    incremental = run_sync()

    assert incremental.success, step_failure(incremental)
    assert (_flagged(postgres, "leads"), _flagged(postgres, "tags")) == (set(), {tag})
    (owned,) = postgres(
        "SELECT leads_owned FROM analytics_models.owner_pipeline "
        f"WHERE user_id = '{lead['owner_id']}'"
    )
    expected = Counter(row["owner_id"] for row in server.records("leads"))[lead["owner_id"]]
    assert owned == (expected + 1,)  # an incremental read cannot tell

    refreshed = run_sync(run_config=FULL_REFRESH_CONFIG)

    assert refreshed.success, step_failure(refreshed)
    assert _flagged(postgres, "leads") == {lead["id"]}
    owners = Counter(row["owner_id"] for row in server.records("leads"))
    pipeline = dict(postgres("SELECT user_id, leads_owned FROM analytics_models.owner_pipeline"))
    assert pipeline == {user["id"]: owners.get(user["id"], 0) for user in server.records("users")}
    (column,) = postgres(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'analytics_api' "
        f"AND table_name = 'leads' AND column_name = '{DELETED_AT}'"
    )
    assert column == ("timestamp with time zone",)


def test_a_reader_in_an_open_transaction_does_not_hold_up_the_next_sync(
    postgres: Query, serve: Serve
) -> None:
    """An analyst's session idle in a transaction over a raw table: the next sync's merge and
    reconciliation take no lock that waits for it (ALTER TABLE would: it runs only once)."""
    serve(users=6, leads=250, campaigns=8)
    assert run_sync().success
    url = os.environ["DESTINATION__POSTGRES__CREDENTIALS"]
    (name,) = postgres("SELECT current_database()")[0]
    postgres_admin = psycopg2.connect(url)
    postgres_admin.autocommit = True
    with postgres_admin.cursor() as cursor:  # a wait for a lock fails fast instead of hanging
        cursor.execute(f"ALTER DATABASE {name} SET lock_timeout = '5s'")
    postgres_admin.close()
    reader = psycopg2.connect(url)
    try:
        with reader.cursor() as cursor:
            for table in ("users", "campaigns", "tags"):
                cursor.execute(f"SELECT COUNT(*) FROM analytics_api.{table}")  # stays open

        result = run_sync()

        assert result.success, step_failure(result)
    finally:
        reader.rollback()
        reader.close()
