"""The SQL models end to end: sandbox over HTTP -> dlt -> raw tables -> SQL -> analytics_models.*.

Expected rows are computed here in plain Python from the records the sandbox serves (or, for the
edge cases no generated data reaches, written out by hand), never from the warehouse itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from analytics_assets.definitions import defs
from analytics_assets.ingest.assets import analytics_api_raw
from analytics_assets.ingest.specs import activity_partitions, raw_asset_key
from analytics_assets.models.assets import DAILY_MODEL_KEYS, MODEL_KEYS, model_assets
from analytics_assets.models.catalog import (
    CAMPAIGN_FUNNEL,
    CAMPAIGN_PERFORMANCE,
    DAILY_ACTIVITY,
    MODELS,
    OWNER_PIPELINE,
)
from analytics_assets.models.model import SQL_DIR, Model
from analytics_assets.sandbox import (
    GENERATED_UNTIL,
    PatchRecord,
    SandboxConfig,
    SandboxServer,
)
from analytics_assets.schema import (
    CAMPAIGN_LEADS,
    CAMPAIGNS,
    EVENTS,
    LEADS,
    REPLIES,
    SYNC_TABLES,
    TABLES,
    USERS,
)
from analytics_assets.warehouse.lock import WAREHOUSE_POOL
from analytics_assets_tests.conftest import (
    RESOURCES,
    TEST_AUTOMATION,
    TEST_KEY,
    materialization_metadata,
    query,
    run_sync,
    step_failure,
    use_api,
)
from analytics_assets_tests.expected import DUCKDB_TYPES

# More users than leads leaves some users without leads; these counts also give users whose
# leads were never emailed, campaigns without creator and campaigns without stats, and (45
# enrollments) campaigns without enrollment, leads in no campaign and leads in several (asserted).
SMALL = SandboxConfig(
    api_key=TEST_KEY, users=25, leads=30, campaigns=30, table_counts={"campaign_leads": 45}
)
MODEL_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
}
DAYS = activity_partitions(TEST_AUTOMATION)
MODEL_ASSETS = model_assets(DAYS)
WHOLE_MODELS = tuple(model for model in MODELS if not model.day_column)
"""The models rebuilt whole by analytics_api_sync (daily_activity is built by day)."""
WHOLE_KEYS = tuple(model.key for model in WHOLE_MODELS)
RAW_KEYS = tuple(raw_asset_key(table) for table in SYNC_TABLES)

Rows = dict[str, tuple[Any, ...]]  # first column (the model's id) -> the whole row


@pytest.fixture(scope="module")
def small_sandbox() -> Iterator[SandboxServer]:
    """A sandbox small enough to check every row, read-only for the tests sharing it."""
    with SandboxServer(SMALL) as server:
        yield server


def materialize(
    selection: Sequence[dg.AssetKey] | None = None, partition_key: str | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize in process the raw tables read in full and the models rebuilt whole
    (``selection``: only those keys; a day model needs its ``partition_key``)."""
    return dg.materialize(
        [analytics_api_raw, *MODEL_ASSETS],
        resources={**defs.resources, **RESOURCES},
        selection=list(selection) if selection is not None else [*RAW_KEYS, *WHOLE_KEYS],
        partition_key=partition_key,
        raise_on_error=False,
    )


def model_metadata(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict[str, Any]]:
    """Materialization metadata values of the models, by asset key."""
    return {
        key: values for key, values in materialization_metadata(result).items() if key in MODEL_KEYS
    }


def table_rows(path: Path, model: Model) -> Rows:
    """The model's table, keyed by its first column, floats rounded for comparison."""
    rows = query(path, f"SELECT * FROM {model.table_name}")
    table = {row[0]: _rounded(row) for row in rows}
    assert len(table) == len(rows), "the first column must be unique"
    return table


def _rounded(row: Sequence[Any]) -> tuple[Any, ...]:
    # Both sides divide the same integers in IEEE doubles; rounding only spares us ulp noise.
    return tuple(round(value, 12) if isinstance(value, float) else value for value in row)


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _ratio(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def enrolled_leads(campaign_leads: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Campaign id -> ids of the leads enrolled in it, from served campaign_leads records."""
    enrolled: dict[str, set[str]] = {}
    for enrollment in campaign_leads:
        enrolled.setdefault(enrollment["campaign_id"], set()).add(enrollment["lead"]["id"])
    return enrolled


def expected_campaign_performance(
    users: list[dict[str, Any]],
    campaigns: list[dict[str, Any]],
    campaign_leads: list[dict[str, Any]],
) -> Rows:
    """campaign_performance computed from API records."""
    users_by_id = {user["id"]: user for user in users}
    enrolled = enrolled_leads(campaign_leads)
    rows: Rows = {}
    for campaign in campaigns:
        creator = campaign.get("creator") or {}
        stats = campaign.get("stats") or {}
        user = users_by_id.get(creator.get("id")) or {}
        contacted, reached, opened, replied, bounced, opted_out = (
            stats.get(f"prospects_{name}")
            for name in ("contacted", "reached", "opened", "replied", "bounced", "optedout")
        )
        rows[campaign["id"]] = _rounded(
            (
                campaign["id"],
                campaign.get("name"),
                _coalesce(user.get("name"), creator.get("name")),
                _coalesce(user.get("email"), creator.get("email")),
                len(enrolled.get(campaign["id"], ())),
                contacted,
                reached,
                opened,
                replied,
                bounced,
                opted_out,
                _ratio(opened, reached),
                _ratio(replied, contacted),
                _ratio(bounced, contacted),
            )
        )
    return rows


def expected_owner_pipeline(
    users: list[dict[str, Any]],
    leads: list[dict[str, Any]],
    campaign_leads: list[dict[str, Any]],
) -> Rows:
    """owner_pipeline computed from API records."""
    in_a_campaign = {enrollment["lead"]["id"] for enrollment in campaign_leads}
    rows: Rows = {}
    for user in users:
        owned = [lead for lead in leads if lead.get("owner_id") == user["id"]]
        contacted = [lead for lead in owned if (lead.get("sent_count") or 0) > 0]
        replied = [lead for lead in owned if (lead.get("replied_count") or 0) > 0]
        sent_at = [
            datetime.fromisoformat(lead["last_sent_at"])
            for lead in owned
            if lead.get("last_sent_at")
        ]
        rows[user["id"]] = _rounded(
            (
                user["id"],
                user.get("name"),
                user.get("email"),
                len(owned),
                sum(1 for lead in owned if lead["id"] in in_a_campaign),
                len(contacted),
                sum(lead.get("replied_count") or 0 for lead in owned),
                sum(1 for lead in owned if lead.get("bounced") is True),
                sum(1 for lead in owned if lead.get("optedout") is True),
                _ratio(len(replied), len(contacted)),
                max(sent_at, default=None),
            )
        )
    return rows


def expected_campaign_funnel(
    campaigns: list[dict[str, Any]],
    campaign_leads: list[dict[str, Any]],
    replies: list[dict[str, Any]],
) -> Rows:
    """campaign_funnel computed from API records; ``replies``: those loaded (read by day)."""
    enrolled = enrolled_leads(campaign_leads)
    rows: Rows = {}
    for campaign in campaigns:
        stats = campaign.get("stats") or {}
        contacted = stats.get("prospects_contacted")
        mine = [reply for reply in replies if reply["campaign_id"] == campaign["id"]]
        leads = {reply["lead_id"] for reply in mine if reply.get("lead_id") is not None}
        sent = [datetime.fromisoformat(reply["sent_at"]) for reply in mine if reply.get("sent_at")]
        sentiments = Counter(reply.get("sentiment") for reply in mine)
        rows[campaign["id"]] = _rounded(
            (
                campaign["id"],
                campaign.get("name"),
                len(enrolled.get(campaign["id"], ())),
                contacted,
                len(leads),
                len(mine),
                sentiments["positive"],
                sentiments["negative"],
                sentiments["neutral"],
                stats.get("prospects_bounced"),
                stats.get("prospects_optedout"),
                _ratio(len(leads), len(enrolled.get(campaign["id"], ()))),
                min(sent, default=None),
                max(sent, default=None),
            )
        )
    return rows


def write_raw_tables(path: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Create the raw tables with the columns and types the ingest declares, holding ``rows``.

    Lets a test reach cases the generated data never does (a creator missing from users, a
    campaign with 0 contacted) and run the models without the API.
    """
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA analytics_api")
        for table in TABLES:
            names = [column.name for column in table.columns]
            declared = ", ".join(f"{c.name} {DUCKDB_TYPES[c.type]}" for c in table.columns)
            con.execute(f"CREATE TABLE analytics_api.{table.name} ({declared})")
            records = rows.get(table.name, [])
            if records:
                con.executemany(
                    f"INSERT INTO analytics_api.{table.name} VALUES "
                    f"({', '.join('?' for _ in names)})",
                    [tuple(record.get(name) for name in names) for record in records],
                )


def model_tables(path: Path) -> set[str]:
    """Names of the tables in the ``analytics`` schema."""
    return {
        row[0]
        for row in query(
            path,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'analytics_models'",
        )
    }


# -- declarations ------------------------------------------------------------------------------


def test_each_model_is_its_own_asset_and_op_in_the_warehouse_pool() -> None:
    assert [asset.keys for asset in MODEL_ASSETS] == [{model.key} for model in MODELS]
    assert [asset.op.name for asset in MODEL_ASSETS] == [
        "analytics_models_campaign_performance",
        "analytics_models_owner_pipeline",
        "analytics_models_campaign_funnel",
        "analytics_models_daily_activity",
    ]
    assert {asset.op.pool for asset in MODEL_ASSETS} == {WAREHOUSE_POOL}
    # a range of days is one run of the day model; the others are not partitioned
    policies = {asset.op.name: asset.backfill_policy for asset in MODEL_ASSETS}
    assert policies.pop("analytics_models_daily_activity") == dg.BackfillPolicy.single_run()
    assert set(policies.values()) == {None}


def test_specs_carry_keys_group_kinds_owners_deps_and_column_docs() -> None:
    specs = {spec.key: spec for asset in MODEL_ASSETS for spec in asset.specs}
    assert tuple(specs) == MODEL_KEYS
    assert MODEL_KEYS == (
        dg.AssetKey(["analytics", "campaign_performance"]),
        dg.AssetKey(["analytics", "owner_pipeline"]),
        dg.AssetKey(["analytics", "campaign_funnel"]),
        dg.AssetKey(["analytics", "daily_activity"]),
    )
    assert DAILY_MODEL_KEYS == (DAILY_ACTIVITY.key,)
    reads = {
        CAMPAIGN_PERFORMANCE.key: {USERS, CAMPAIGNS, CAMPAIGN_LEADS},
        OWNER_PIPELINE.key: {USERS, LEADS, CAMPAIGN_LEADS},
        CAMPAIGN_FUNNEL.key: {CAMPAIGNS, CAMPAIGN_LEADS, REPLIES},
        DAILY_ACTIVITY.key: {EVENTS, REPLIES},
    }
    for model in MODELS:
        spec = specs[model.key]
        assert spec.group_name == "models"
        assert spec.kinds == {"sql", "duckdb"}
        assert spec.owners == ["team:data-engineering"]
        assert spec.description
        assert {dep.asset_key for dep in spec.deps} == {
            raw_asset_key(table) for table in reads[model.key]
        }
        assert spec.partitions_def == (DAYS if model.key in DAILY_MODEL_KEYS else None)
        assert spec.metadata["dagster/table_name"] == f"analytics_models.{model.name}"
        columns = spec.metadata["dagster/column_schema"].columns
        assert [(c.name, c.type, c.description) for c in columns] == [
            (c.name, c.type, c.description) for c in model.columns
        ]
        assert all(c.description and c.type in MODEL_DUCKDB_TYPES for c in columns)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_each_sql_file_holds_one_select(model: Model) -> None:
    code = [line for line in model.select_sql().splitlines() if not line.startswith("--")]
    assert code[0].startswith("SELECT")
    assert ";" not in "\n".join(code)
    assert {p.name for p in SQL_DIR.iterdir() if p.name.endswith(".sql")} == {
        f"{m.name}.sql" for m in MODELS
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_the_sql_returns_the_declared_columns_in_order(model: Model, warehouse: Path) -> None:
    write_raw_tables(warehouse, {})
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET schema = 'analytics_api'")  # the SELECT reads raw tables by bare name
        description = con.execute(model.select_sql()).description

    assert [column[0] for column in description] == [column.name for column in model.columns]


def test_on_empty_raw_tables_the_models_are_empty_tables_of_the_declared_types(
    warehouse: Path,
) -> None:
    write_raw_tables(warehouse, {})

    whole = materialize(WHOLE_KEYS)
    by_day = materialize(DAILY_MODEL_KEYS, partition_key="2026-11-19")

    assert whole.success, step_failure(whole)
    assert by_day.success, step_failure(by_day)
    built = {**model_metadata(whole), **model_metadata(by_day)}
    assert {key: meta["dagster/row_count"] for key, meta in built.items()} == {
        key: 0 for key in MODEL_KEYS
    }
    for model in MODELS:
        columns = query(
            warehouse,
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            f"table_schema = 'analytics_models' AND table_name = '{model.name}' "
            "ORDER BY ordinal_position",
        )
        assert columns == [(c.name, MODEL_DUCKDB_TYPES[c.type]) for c in model.columns]


# -- rows ----------------------------------------------------------------------------------------


def test_campaign_performance_holds_one_row_per_served_campaign(
    small_sandbox: SandboxServer, warehouse: Path
) -> None:
    campaigns = small_sandbox.records("campaigns")
    assert any(campaign["creator"] is None for campaign in campaigns)
    assert any(campaign["stats"] is None for campaign in campaigns)
    expected = expected_campaign_performance(
        small_sandbox.records("users"), campaigns, small_sandbox.records("campaign_leads")
    )
    enrolled = sorted(row[4] for row in expected.values())
    assert enrolled[0] == 0 and enrolled[-1] > 1  # campaigns without and with several leads
    use_api(small_sandbox)

    result = materialize()

    assert result.success, step_failure(result)
    assert table_rows(warehouse, CAMPAIGN_PERFORMANCE) == expected


def test_owner_pipeline_holds_one_row_per_served_user_with_zeros_for_users_without_leads(
    small_sandbox: SandboxServer, warehouse: Path
) -> None:
    campaign_leads = small_sandbox.records("campaign_leads")
    expected = expected_owner_pipeline(
        small_sandbox.records("users"), small_sandbox.records("leads"), campaign_leads
    )
    without_leads = [row for row in expected.values() if row[3] == 0]
    assert without_leads and all(row[3:] == (0, 0, 0, 0, 0, 0, None, None) for row in without_leads)
    assert any(row[3] > 0 and row[5] == 0 for row in expected.values())  # owns, none emailed
    # owns leads in no campaign, owns none in a campaign; a lead in several counts once
    assert any(0 < row[4] < row[3] for row in expected.values())
    assert any(row[3] > 0 and row[4] == 0 for row in expected.values())
    per_lead = Counter(enrollment["lead"]["id"] for enrollment in campaign_leads)
    assert max(per_lead.values()) > 1
    use_api(small_sandbox)

    result = materialize()

    assert result.success, step_failure(result)
    assert table_rows(warehouse, OWNER_PIPELINE) == expected


def test_fallbacks_zero_denominators_and_nulls_on_hand_written_rows(warehouse: Path) -> None:
    write_raw_tables(
        warehouse,
        {
            "users": [
                {"id": "u_ada", "name": "Ada", "email": "ada@example.com"},
                {"id": "u_idle", "name": "Idle", "email": "idle@example.com"},
                {"id": "u_anon", "name": None, "email": None},
            ],
            "campaigns": [
                {
                    "id": "c_zero",
                    "name": "Zero",
                    "creator__id": "u_ada",
                    "creator__name": "Old Ada",
                    "creator__email": "old@example.com",
                    "stats__prospects_contacted": 0,
                    "stats__prospects_reached": 0,
                    "stats__prospects_opened": 0,
                    "stats__prospects_replied": 0,
                    "stats__prospects_bounced": 0,
                    "stats__prospects_optedout": 0,
                },
                {
                    "id": "c_gone",
                    "name": "Gone",
                    "creator__id": "u_deleted",
                    "creator__name": "Gone User",
                    "creator__email": "gone@example.com",
                    "stats__prospects_contacted": 4,
                    "stats__prospects_reached": 0,
                    "stats__prospects_opened": 0,
                    "stats__prospects_replied": 1,
                    "stats__prospects_bounced": 4,
                    "stats__prospects_optedout": 0,
                },
                {
                    "id": "c_anon",
                    "name": "Anon",
                    "creator__id": "u_anon",
                    "creator__name": "Then Named",
                    "creator__email": "then@example.com",
                    "stats__prospects_contacted": 8,
                    "stats__prospects_reached": 5,
                    "stats__prospects_opened": 2,
                    "stats__prospects_replied": 1,
                    "stats__prospects_bounced": 3,
                    "stats__prospects_optedout": 1,
                },
                {"id": "c_bare", "name": None},
            ],
            "leads": [
                {"id": "l1", "owner_id": "u_ada", "sent_count": 0, "replied_count": None},
                {
                    "id": "l2",
                    "owner_id": "u_ada",
                    "sent_count": 2,
                    "replied_count": 1,
                    "bounced": False,
                    "optedout": False,
                    "last_sent_at": "2024-04-16T21:48:07Z",
                },
                {
                    "id": "l3",
                    "owner_id": "u_ada",
                    "sent_count": 3,
                    "replied_count": 0,
                    "bounced": True,
                    "optedout": None,
                    "last_sent_at": "2024-05-01T09:00:00Z",
                },
                {
                    "id": "l4",
                    "owner_id": "u_ada",
                    "sent_count": None,
                    "replied_count": None,
                    "bounced": None,
                    "optedout": True,
                    "last_sent_at": None,
                },
                {
                    "id": "l5",
                    "owner_id": "u_anon",
                    "sent_count": 0,
                    "replied_count": 0,
                    "bounced": False,
                    "optedout": False,
                },
            ],
            # l2 in two campaigns (counted once for u_ada), an enrollment of an unknown lead
            "campaign_leads": [
                {"id": "e1", "campaign_id": "c_zero", "mailbox_id": "m", "lead__id": "l1"},
                {"id": "e2", "campaign_id": "c_zero", "mailbox_id": "m", "lead__id": "l2"},
                {"id": "e3", "campaign_id": "c_anon", "mailbox_id": "m", "lead__id": "l2"},
                {"id": "e4", "campaign_id": "c_anon", "mailbox_id": "m", "lead__id": "l_gone"},
            ],
        },
    )

    result = materialize(WHOLE_KEYS)

    assert result.success, step_failure(result)
    assert table_rows(warehouse, CAMPAIGN_PERFORMANCE) == {
        "c_zero": (
            "c_zero",
            "Zero",
            "Ada",
            "ada@example.com",
            2,
            0,
            0,
            0,
            0,
            0,
            0,
            None,
            None,
            None,
        ),
        "c_gone": (
            "c_gone",
            "Gone",
            "Gone User",
            "gone@example.com",
            0,
            4,
            0,
            0,
            1,
            4,
            0,
            None,
            0.25,
            1.0,
        ),
        "c_anon": (
            "c_anon",
            "Anon",
            "Then Named",
            "then@example.com",
            2,
            8,
            5,
            2,
            1,
            3,
            1,
            0.4,
            0.125,
            0.375,
        ),
        "c_bare": (
            "c_bare",
            None,
            None,
            None,
            0,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    }
    assert table_rows(warehouse, OWNER_PIPELINE) == {
        "u_ada": (
            "u_ada",
            "Ada",
            "ada@example.com",
            4,
            2,
            2,
            1,
            1,
            1,
            0.5,
            datetime.fromisoformat("2024-05-01T09:00:00+00:00"),
        ),
        "u_idle": ("u_idle", "Idle", "idle@example.com", 0, 0, 0, 0, 0, 0, None, None),
        "u_anon": ("u_anon", None, None, 1, 0, 0, 0, 0, 0, None, None),
    }


# -- materializations ----------------------------------------------------------------------------


def test_materializations_report_the_table_row_counts_names_and_columns(
    small_sandbox: SandboxServer, warehouse: Path
) -> None:
    use_api(small_sandbox)

    result = materialize()

    assert result.success, step_failure(result)
    metadata = model_metadata(result)
    assert set(metadata) == set(WHOLE_KEYS)
    served = {
        CAMPAIGN_PERFORMANCE.key: len(small_sandbox.records("campaigns")),
        OWNER_PIPELINE.key: len(small_sandbox.records("users")),
        CAMPAIGN_FUNNEL.key: len(small_sandbox.records("campaigns")),
    }
    for model in WHOLE_MODELS:
        meta = metadata[model.key]
        ((count,),) = query(warehouse, f"SELECT COUNT(*) FROM {model.table_name}")
        assert meta["dagster/row_count"] == count == served[model.key]
        assert meta["dagster/table_name"] == model.table_name
        assert [c.name for c in meta["dagster/column_schema"].columns] == [
            c.name for c in model.columns
        ]


def test_a_second_materialization_in_the_same_process_rebuilds_from_new_raw_data(
    warehouse: Path,
) -> None:
    with SandboxServer(SMALL) as server:
        use_api(server)
        assert materialize().success
        before = table_rows(warehouse, OWNER_PIPELINE)
        server.change_leads(5)  # last emailed "now", after every generated timestamp

        second = materialize()

        assert second.success, step_failure(second)
        after = table_rows(warehouse, OWNER_PIPELINE)
        users, campaign_leads = server.records("users"), server.records("campaign_leads")
        assert after == expected_owner_pipeline(users, server.records("leads"), campaign_leads)
        assert after != before
        assert any(row[-1] is not None and row[-1] >= GENERATED_UNTIL for row in after.values())
        assert table_rows(warehouse, CAMPAIGN_PERFORMANCE) == expected_campaign_performance(
            users, server.records("campaigns"), campaign_leads
        )


def test_a_failed_build_leaves_the_previous_table_in_place(warehouse: Path) -> None:
    write_raw_tables(
        warehouse,
        {
            "users": [{"id": "u_1", "name": "One", "email": "one@example.com"}],
            "leads": [{"id": "l_1", "owner_id": "u_1", "sent_count": 1, "replied_count": 1}],
        },
    )
    assert materialize(WHOLE_KEYS).success
    before = table_rows(warehouse, OWNER_PIPELINE)
    assert before["u_1"][3:7] == (1, 0, 1, 1)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DROP TABLE analytics_api.leads")

    result = materialize([OWNER_PIPELINE.key])

    assert not result.success
    assert table_rows(warehouse, OWNER_PIPELINE) == before


@pytest.mark.parametrize("model", WHOLE_MODELS, ids=lambda model: model.name)
def test_materializing_one_model_leaves_the_others_absent(
    model: Model, small_sandbox: SandboxServer, warehouse: Path
) -> None:
    use_api(small_sandbox)

    result = materialize([*RAW_KEYS, model.key])

    assert result.success, step_failure(result)
    assert set(model_metadata(result)) == {model.key}
    assert model_tables(warehouse) == {model.name}


def test_without_raw_tables_the_models_fail_naming_the_raw_assets_to_materialize(
    warehouse: Path,
) -> None:
    result = materialize(WHOLE_KEYS)

    assert not result.success
    failure = step_failure(result)
    for raw in (
        "analytics_api/users, analytics_api/campaigns, analytics_api/campaign_leads",
        "analytics_api/users, analytics_api/leads, analytics_api/campaign_leads",
        "analytics_api/campaigns, analytics_api/campaign_leads",  # replies: read by day
    ):
        assert f"reads tables that were never loaded: materialize {raw} first." in failure
    assert model_metadata(result) == {}


# -- blocking checks -----------------------------------------------------------------------------


def _entity_keys_by_node_output() -> dict[tuple[str, str], dg.AssetKey | dg.AssetCheckKey]:
    """(op name, output name) -> the asset or check key that output stands for, in ``defs``."""
    return {
        (definition.node_def.name, output): key
        for definition in [*defs.assets, *defs.asset_checks]
        for output, key in definition.entity_keys_by_output_name.items()
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_a_model_step_waits_only_for_the_tables_it_reads_and_their_blocking_checks(
    model: Model,
) -> None:
    # the day model is built by the job reading days; the others by the sync, which reads
    # no replies: there campaign_funnel waits for the tables read in full only
    name = "analytics_api_activity_sync" if model.day_column else "analytics_api_sync"
    job = defs.resolve_job_def(name)
    node = next(asset.op.name for asset in MODEL_ASSETS if asset.keys == {model.key})
    keys = _entity_keys_by_node_output()

    upstream = {
        keys[(output.node_name, output.output_name)]
        for output in job.graph.dependency_structure.all_upstream_outputs_from_node(node)
    }

    in_job = set(job.asset_layer.executable_asset_keys)
    assert model.key in in_job
    reads = {raw_asset_key(table) for table in model.reads} & in_job
    expected_reads = {
        CAMPAIGN_PERFORMANCE.key: {USERS, CAMPAIGNS, CAMPAIGN_LEADS},
        OWNER_PIPELINE.key: {USERS, LEADS, CAMPAIGN_LEADS},
        CAMPAIGN_FUNNEL.key: {CAMPAIGNS, CAMPAIGN_LEADS},
        DAILY_ACTIVITY.key: {EVENTS, REPLIES},
    }[model.key]
    assert reads == {raw_asset_key(table) for table in expected_reads}
    blocking = {
        spec.key
        for checks in defs.asset_checks
        for spec in checks.check_specs
        if spec.blocking and spec.asset_key in reads
    }
    assert blocking and {key.asset_key for key in blocking} == reads
    assert upstream == reads | blocking


def _sync_with_a_failed_check(
    server: SandboxServer, failing: str
) -> dict[dg.AssetKey, dict[str, Any]]:
    """Run analytics_api_sync, which fails on exactly one blocking check, of table ``failing``;
    the models it materialized, with their metadata."""
    use_api(server)
    result = run_sync()
    failed = [
        (event.asset_key.path[-1], event.check_name)
        for event in result.get_asset_check_evaluations()
        if not event.passed and event.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert len(failed) == 1 and failed[0][0] == failing, failed
    assert not result.success
    return model_metadata(result)


def test_a_failed_check_on_leads_blocks_owner_pipeline_only(
    warehouse: Path,
) -> None:
    with SandboxServer(replace(SMALL, defects=("null_owner_id",))) as server:  # leads: not_null
        users, campaigns = server.records("users"), server.records("campaigns")
        campaign_leads = server.records("campaign_leads")

        built = _sync_with_a_failed_check(server, "leads")

    campaign_models = {CAMPAIGN_PERFORMANCE, CAMPAIGN_FUNNEL}  # they read no leads
    assert set(built) == {model.key for model in campaign_models}
    for model in campaign_models:
        assert built[model.key]["dagster/row_count"] == len(campaigns) == 30
    assert table_rows(warehouse, CAMPAIGN_PERFORMANCE) == expected_campaign_performance(
        users, campaigns, campaign_leads
    )
    # the sync reads no day of replies: the funnel counts none
    assert table_rows(warehouse, CAMPAIGN_FUNNEL) == expected_campaign_funnel(
        campaigns, campaign_leads, []
    )
    assert model_tables(warehouse) == {model.name for model in campaign_models}


def test_a_failed_check_on_campaigns_blocks_the_campaign_models_only(
    warehouse: Path,
) -> None:
    with SandboxServer(SMALL) as server:
        # fails campaigns: column_types (a variant column); the record still loads
        server.inject("campaigns", PatchRecord(0, ("stats", "prospects_contacted"), "many"), page=1)
        users, leads = server.records("users"), server.records("leads")
        campaign_leads = server.records("campaign_leads")

        built = _sync_with_a_failed_check(server, "campaigns")

    assert set(built) == {OWNER_PIPELINE.key}
    assert built[OWNER_PIPELINE.key]["dagster/row_count"] == len(users) == 25
    assert table_rows(warehouse, OWNER_PIPELINE) == expected_owner_pipeline(
        users, leads, campaign_leads
    )
    assert model_tables(warehouse) == {OWNER_PIPELINE.name}
