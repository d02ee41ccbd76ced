"""source.py: the seed's rest_api config, its hints from schema.py, the steps on each resource."""

from __future__ import annotations

from analytics_assets.api.incremental import UpdatedAfterPaginator
from analytics_assets.api.paginator import NextPagePaginator
from analytics_assets.api.records import RejectedRecords
from analytics_assets.api.source import analytics_api_source, column_hints, seed_config
from analytics_assets.sandbox import PatchRecord, SandboxServer
from analytics_assets.schema import API_NAME, LEADS, SYNC_TABLES, TABLES, USERS
from analytics_assets.settings import Settings
from analytics_assets_tests.conftest import TEST_KEY

SETTINGS = Settings(base_url="http://127.0.0.1:1/v1/", key_header="x-api-key")


def test_every_declared_column_is_hinted_with_its_type_and_only_id_is_not_null() -> None:
    hints = column_hints(LEADS)

    assert list(hints) == [column.name for column in LEADS.columns]
    assert hints["id"] == {
        "data_type": "text",
        "nullable": False,
        "description": "Hashed lead id.",
        "primary_key": True,
    }
    assert hints["sent_count"]["data_type"] == "bigint" and hints["sent_count"]["nullable"]
    assert hints["data__city"]["data_type"] == "text"
    assert [name for name, hint in hints.items() if not hint["nullable"]] == ["id"]


def test_the_config_keeps_the_seeds_shape() -> None:
    config = seed_config(SETTINGS, "k")

    assert config["client"]["auth"] == {
        "type": "api_key",
        "name": "x-api-key",
        "api_key": "k",
        "location": "header",
    }
    assert config["resource_defaults"] == {
        "primary_key": "id",
        "write_disposition": {
            "disposition": "merge",
            "strategy": "delete-insert",
            "deduplicated": True,
        },
    }
    resources = {resource["name"]: resource for resource in config["resources"]}
    assert list(resources) == [table.name for table in TABLES if table.window is None]
    assert resources["users"]["endpoint"]["path"] == "/users"
    assert resources["campaign_leads"]["endpoint"]["path"] == "/campaigns/{campaign_id}/leads"
    assert resources["campaign_leads"]["endpoint"]["params"] == {
        "campaign_id": {"type": "resolve", "resource": "campaigns", "field": "id"}
    }
    assert type(resources["users"]["endpoint"]["paginator"]) is NextPagePaginator
    assert isinstance(resources["leads"]["endpoint"]["paginator"], UpdatedAfterPaginator)
    assert resources["users"]["columns"] == column_hints(USERS)


def test_the_source_is_named_after_the_api_and_sets_records_aside(
    sandbox: SandboxServer,
) -> None:
    sandbox.clear_faults()
    sandbox.inject("users", PatchRecord(3, ("id",), None), page=1)
    rejected = RejectedRecords()
    settings = Settings(base_url=sandbox.base_url, key_header=sandbox.config.key_header)
    source = analytics_api_source(settings, TEST_KEY, rejected=rejected)

    items = list(source.resources["users"])

    assert source.name == API_NAME
    assert set(source.selected_resources) == {table.name for table in SYNC_TABLES}
    served = [user["id"] for user in sandbox.records("users")]
    assert [item["id"] for item in items] == served[:3] + served[4:]  # the page's records
    assert [(row["resource"], row["position"], row["reason"]) for row in rejected.rows] == [
        ("users", 3, "id is null")
    ]
