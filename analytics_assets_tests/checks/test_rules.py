"""Rules that judge "the latest sync" look only at its load, never at staging rows left over."""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics_assets.checks.rules import RULES_BY_NAME
from analytics_assets.schema import USERS
from analytics_assets.warehouse.sql import open_warehouse
from analytics_assets_tests.conftest import settings_for_test


def _tables(path: Path) -> None:
    """users with unique ids; its staging copy holds a duplicate from load L1 only."""
    with duckdb.connect(str(path)) as con:
        for schema in ("analytics_api", "analytics_api_staging"):
            con.execute(f"CREATE SCHEMA {schema}")
            con.execute(f"CREATE TABLE {schema}.users (id VARCHAR, _dlt_load_id VARCHAR)")
        con.execute("INSERT INTO analytics_api.users VALUES ('u1', 'L1'), ('u2', 'L1')")
        con.execute(
            "INSERT INTO analytics_api_staging.users "
            "VALUES ('u1', 'L1'), ('u1', 'L1'), ('u2', 'L1')"
        )


def test_a_duplicate_in_the_latest_load_fails_primary_key(warehouse: Path) -> None:
    _tables(warehouse)
    with open_warehouse(settings_for_test()) as opened:
        finding = RULES_BY_NAME["primary_key"].evaluate(opened, USERS, ("L1",))

    assert not finding.passed
    assert finding.details["duplicate_ids_in_last_load"] == 1
    assert finding.sample_ids == ["u1"]


def test_staging_rows_of_an_older_load_do_not_fail_a_later_sync(warehouse: Path) -> None:
    _tables(warehouse)  # the latest sync (L2) loaded no users: dlt left L1's staging rows
    with open_warehouse(settings_for_test()) as opened:
        later = RULES_BY_NAME["primary_key"].evaluate(opened, USERS, ("L2",))
        nothing_loaded = RULES_BY_NAME["primary_key"].evaluate(opened, USERS, ())

    assert later.passed and later.details["duplicate_ids_in_last_load"] == 0
    assert nothing_loaded.passed
