"""The analytics_api_sync job end to end: sandbox over HTTP -> dlt -> Dagster -> DuckDB."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.sandbox import ALL_NULL_COLUMN, SandboxConfig, SandboxServer
from analytics_assets.sandbox.faults import Status
from analytics_assets.schema import (
    DELETED_AT,
    DELETED_AT_DESCRIPTION,
    LEADS,
    SYNC_TABLES,
    TABLES_BY_NAME,
)
from analytics_assets_tests.conftest import TEST_KEY, query, run_sync, step_failure, use_api
from analytics_assets_tests.expected import DUCKDB_TYPES, expected_rows, select_declared

LEAD_PAGES = 25  # the default sandbox: 2,500 leads, 100 per page


def raw_materializations(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    """The materialization events of the raw assets (the job also builds models)."""
    raw = {raw_asset_key(table) for table in SYNC_TABLES}
    return [e for e in result.get_asset_materialization_events() if e.asset_key in raw]


def _ids(path: Path, table: str) -> list[str]:
    return [row[0] for row in query(path, f"SELECT id FROM analytics_api.{table}")]


@pytest.mark.parametrize("mode", ["url", "token"])
def test_every_page_of_every_resource_loads(
    mode: str,
    sandbox: SandboxServer,
    token_sandbox: SandboxServer,
    warehouse: Path,
) -> None:
    server = sandbox if mode == "url" else token_sandbox
    use_api(server)

    result = run_sync()

    assert result.success, step_failure(result)
    for table in SYNC_TABLES:
        ids = _ids(warehouse, table.name)
        assert len(ids) == len(set(ids))
        assert set(ids) == {record["id"] for record in server.records(table.name)}
    lead_pages = [entry for entry in server.request_log if entry.resource == "leads"]
    assert [entry.page for entry in lead_pages] == list(range(1, LEAD_PAGES + 1))
    if mode == "token":
        assert all("next_page" in entry.query for entry in lead_pages[1:])


def test_rows_hold_exactly_the_served_values(sandbox: SandboxServer, warehouse: Path) -> None:
    use_api(sandbox)

    assert run_sync().success

    for table in SYNC_TABLES:
        assert set(query(warehouse, select_declared(table))) == expected_rows(sandbox, table)


def test_every_declared_column_has_its_declared_type(
    sandbox: SandboxServer, warehouse: Path
) -> None:
    use_api(sandbox)

    assert run_sync().success

    for table in SYNC_TABLES:
        columns = {
            name: (data_type, nullable)
            for name, data_type, nullable in query(
                warehouse,
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                f"WHERE table_schema = 'analytics_api' AND table_name = '{table.name}'",
            )
        }
        declared = {
            column.name: (DUCKDB_TYPES[column.type], "NO" if column.name == "id" else "YES")
            for column in table.columns
        }
        assert {name: columns.get(name) for name in declared} == declared
        assert set(columns) - set(declared) == {"_dlt_id", "_dlt_load_id", DELETED_AT}
        assert columns[DELETED_AT] == ("TIMESTAMP WITH TIME ZONE", "YES")  # no variants


def test_a_column_null_in_every_row_still_exists_with_its_type(
    sandbox: SandboxServer, warehouse: Path
) -> None:
    table, column = ALL_NULL_COLUMN
    assert all(record.get(column) is None for record in sandbox.records(table))
    use_api(sandbox)

    assert run_sync().success

    assert query(
        warehouse,
        f"SELECT COUNT(*), COUNT({column}), typeof(ANY_VALUE({column})) FROM analytics_api.{table}",
    ) == [(len(sandbox.records(table)), 0, DUCKDB_TYPES[TABLES_BY_NAME[table].column(column).type])]


def test_a_second_run_updates_changed_rows_and_adds_no_duplicates(warehouse: Path) -> None:
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=450)) as server:
        use_api(server)
        assert run_sync().success
        changed = server.change_leads(30)
        before = {row[0]: row for row in query(warehouse, select_declared(LEADS))}

        second = run_sync()  # a second materialization in the same process (dagster#34052)

        assert second.success, step_failure(second)
        after = query(warehouse, select_declared(LEADS))
        assert len(after) == 450
        assert set(after) == expected_rows(server, LEADS)
        assert {row[0] for row in after if before[row[0]] != row} == set(changed)


def test_materializations_carry_row_counts_table_names_and_column_docs(
    sandbox: SandboxServer,
) -> None:
    use_api(sandbox)

    result = run_sync()

    assert result.success
    materializations = {
        event.asset_key: event.metadata
        for event in raw_materializations(result)
        for event in [event.event_specific_data.materialization]
    }
    assert set(materializations) == {raw_asset_key(table) for table in SYNC_TABLES}
    for table in SYNC_TABLES:
        metadata = materializations[raw_asset_key(table)]
        count = len(sandbox.records(table.name))
        assert metadata["dagster/row_count"].value == count
        assert metadata["rows_loaded"].value == count
        assert metadata["dagster/table_name"].value == f"analytics_api.{table.name}"
        schema = metadata["dagster/column_schema"].value
        assert [(c.name, c.description) for c in schema.columns] == [
            (c.name, c.description) for c in table.columns
        ] + [(DELETED_AT, DELETED_AT_DESCRIPTION)]


def test_an_empty_load_reports_zero_rows() -> None:
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=0, campaigns=0)) as server:
        use_api(server)

        result = run_sync()

        assert result.success, step_failure(result)
        counts = {
            event.asset_key: event.event_specific_data.materialization.metadata[
                "dagster/row_count"
            ].value
            for event in raw_materializations(result)
        }
        empty = {"leads", "campaigns", "campaign_leads"}  # campaign_leads: no campaign to ask
        assert counts == {
            raw_asset_key(table): 0 if table.name in empty else len(server.records(table.name))
            for table in SYNC_TABLES
        }


def test_without_a_key_the_run_fails_at_once_naming_the_variable(sandbox: SandboxServer) -> None:
    use_api(sandbox, key=None)

    result = run_sync()

    assert not result.success
    assert "ANALYTICS_API_KEY" in step_failure(result)
    assert sandbox.request_log == []


def test_a_wrong_key_fails_with_an_auth_error_after_one_request_per_endpoint(
    sandbox: SandboxServer, warehouse: Path
) -> None:
    use_api(sandbox, key="wrong-key-31337")

    result = run_sync()

    assert not result.success
    message = step_failure(result)
    top_level = [table for table in SYNC_TABLES if table.parent is None]
    for table in top_level:
        assert f"{table.name}: GET {sandbox.base_url}{table.name} answered 401 (unauthorized" in (
            message
        )
    assert "campaign_leads" not in message  # never asked: no campaign was read
    assert "ANALYTICS_API_KEY" in message
    assert "wrong-key-31337" not in message
    requests = sorted((entry.path, entry.status) for entry in sandbox.request_log)
    assert requests == sorted((f"/v1/{table.name}", 401) for table in top_level)
    assert _loaded_tables(warehouse) == []


def test_a_key_refused_on_one_endpoint_names_it_and_loads_nothing(
    sandbox: SandboxServer, warehouse: Path
) -> None:
    use_api(sandbox)
    sandbox.inject("leads", Status(403), page=1)

    result = run_sync()

    assert not result.success
    message = step_failure(result)
    assert f"leads: GET {sandbox.base_url}leads answered 403 (" in message
    assert "lacks access to this endpoint" in message
    assert "users:" not in message and "campaigns:" not in message
    leads = [
        (entry.page, entry.status) for entry in sandbox.request_log if entry.resource == "leads"
    ]
    assert leads == [(1, 403)]
    assert _loaded_tables(warehouse) == []  # users and campaigns were read, but not loaded


def _loaded_tables(path: Path) -> list[str]:
    if not path.exists():
        return []
    rows = query(
        path,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics_api'"
        " AND table_name NOT LIKE '_dlt%' ORDER BY 1",
    )
    return [row[0] for row in rows]


def test_the_api_key_appears_in_no_event_and_no_file(
    sandbox: SandboxServer, warehouse: Path
) -> None:
    use_api(sandbox)
    instance = dg.DagsterInstance.ephemeral()

    result = run_sync(instance)

    assert result.success
    events = instance.all_logs(result.run_id)
    assert len(events) > 10
    assert not [event for event in events if TEST_KEY in repr(event)]
    files = [path for path in warehouse.parent.rglob("*") if path.is_file()]
    assert warehouse in files
    assert not [path for path in files if TEST_KEY.encode() in path.read_bytes()]


def test_progress_is_logged_per_resource(sandbox: SandboxServer) -> None:
    use_api(sandbox)
    instance = dg.DagsterInstance.ephemeral()

    result = run_sync(instance)

    messages = [event.user_message for event in instance.all_logs(result.run_id)]
    assert (
        "sync finished: users 1 pages / 25 rows; leads 25 pages / 2,500 rows; "
        "campaigns 1 pages / 40 rows; campaign_leads 56 pages / 3,000 rows; "
        "lead_statuses 1 pages / 8 rows; lead_fields 1 pages / 12 rows; tags 1 pages / 30 rows; "
        "dnc_domains 2 pages / 150 rows"
    ) in messages
