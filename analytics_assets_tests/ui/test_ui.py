"""The Dagster UI end to end: `dagster dev` over the sandbox, driven by headless Chromium."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from playwright.sync_api import Page, expect

from analytics_assets.models.catalog import CAMPAIGN_FUNNEL
from analytics_assets.models.model import PREVIEW_ROWS
from analytics_assets.sandbox import SandboxServer
from analytics_assets.schema import ACTIVITY_TABLES, SYNC_TABLES, TABLES
from analytics_assets_tests.ui.conftest import VIEWPORT
from analytics_assets_tests.ui.harness import REPOSITORY_SELECTOR, DagsterDev, poll

RAW_ASSETS = tuple(table.name for table in TABLES)
SYNC_ASSETS = tuple(table.name for table in SYNC_TABLES)
ACTIVITY_ASSETS = tuple(table.name for table in ACTIVITY_TABLES)
SYNC_MODELS = ("campaign_performance", "owner_pipeline", "campaign_funnel")
DAILY_MODELS = ("daily_activity",)
MODELS = (*SYNC_MODELS, *DAILY_MODELS)
LINEAGE = {
    **{
        ("analytics_api", table.name): (
            {("analytics_api", table.parent.table)} if table.parent else set()
        )
        for table in TABLES
    },
    ("analytics", "campaign_performance"): {
        ("analytics_api", "users"),
        ("analytics_api", "campaigns"),
        ("analytics_api", "campaign_leads"),
    },
    ("analytics", "owner_pipeline"): {
        ("analytics_api", "users"),
        ("analytics_api", "leads"),
        ("analytics_api", "campaign_leads"),
    },
    ("analytics", "campaign_funnel"): {
        ("analytics_api", "campaigns"),
        ("analytics_api", "campaign_leads"),
        ("analytics_api", "replies"),
    },
    ("analytics", "daily_activity"): {("analytics_api", "events"), ("analytics_api", "replies")},
}
ZOOM_OUT_STEPS = 4  # 3 draws all 14 nodes, just: 4 leaves a margin
LOCATION = "{repositoryName}@{repositoryLocationName}".format(**REPOSITORY_SELECTOR)
SCHEDULES = (
    "analytics_api_sync_schedule",
    "analytics_api_full_refresh_schedule",
    "analytics_api_activity_schedule",
)
SENSORS = ("analytics_automation_sensor", "analytics_run_failure_sensor")
RUN_TIMEOUT_S = 180.0  # the sync of the default sandbox: ~20 s alone, ~70 s on a busy 2-core box
TICK_TIMEOUT_S = 60.0  # the daemon evaluates sensors within seconds of starting

LATEST_RUNS = "{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { runId } } }"
ASSET_NODES = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
UI_RUNS = """{
  runsOrError(filter: {tags: [{key: "dagster/from_ui", value: "true"}]}) {
    __typename
    ... on Runs { results { runId status } }
    ... on PythonError { message }
  }
}"""
RUN_STATUS = """query ($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } ... on PythonError { message } }
}"""
SCHEDULE_STATES = """query ($repo: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repo) {
    __typename
    ... on Schedules { results { name scheduleState { status } } }
    ... on PythonError { message }
  }
}"""
SENSOR_TICKS = """query ($repo: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repo) {
    __typename
    ... on Sensors {
      results { name sensorState { status ticks(limit: 5) { status timestamp error { message } } } }
    }
    ... on PythonError { message }
  }
}"""


LAUNCH_RUN = """mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
LATEST_METADATA = """query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetMaterializations(limit: 1) {
      runId
      metadataEntries {
        label
        __typename
        ... on IntMetadataEntry { intValue }
        ... on TableColumnLineageMetadataEntry {
          lineage { columnName columnDeps { assetKey { path } columnName } }
        }
      }
    }
  }
}"""
FUNNEL_KEY = ("analytics", CAMPAIGN_FUNNEL.name)
FUNNEL_COLUMNS = tuple(column.name for column in CAMPAIGN_FUNNEL.columns)
WAREHOUSE_FILE = "warehouse.duckdb"
"""The DuckDB file of `dagster dev` (``harness.dagster_dev``: beside its log, in its workdir)."""
TOP_CAMPAIGN = """
SELECT campaigns.id, campaigns.name, COUNT(*) AS replies
FROM analytics_api.campaigns AS campaigns
JOIN analytics_api.replies AS replies ON replies.campaign_id = campaigns.id
WHERE campaigns._deleted_at IS NULL
GROUP BY campaigns.id, campaigns.name
ORDER BY replies DESC, campaigns.id
LIMIT 1
"""
"""The campaign with the most replies, from the raw tables (campaign_funnel's first row)."""
LIVE_CAMPAIGNS = "SELECT COUNT(*) FROM analytics_api.campaigns WHERE _deleted_at IS NULL"


RESOURCE = """query ($selector: ResourceSelector!) {
  topLevelResourceDetailsOrError(resourceSelector: $selector) {
    __typename
    ... on ResourceDetails {
      name
      configFields { name description }
      configuredValues { key value type }
    }
    ... on PythonError { message }
  }
}"""


def _drawn_name(name: str) -> re.Pattern[str]:
    """How the zoomed-out graph labels an asset: long names lose their middle (``campa…nce``)."""
    if len(name) <= 16:
        return re.compile(f"^{re.escape(name)}$")
    return re.compile(f"^{re.escape(name[:5])}.+{re.escape(name[-6:])}$")


def _results(answer: dict[str, Any], field: str, typename: str) -> list[dict[str, Any]]:
    """The results of a ``...OrError`` field, failing with its error when it is not ``typename``."""
    value = answer[field]
    assert value["__typename"] == typename, value
    return value["results"]


def _ui_run(dagster: DagsterDev) -> dict[str, Any] | None:
    """The one run launched from the UI, once it exists."""
    runs = _results(dagster.graphql(UI_RUNS), "runsOrError", "Runs")
    assert len(runs) <= 1, f"more than one run launched from the UI: {runs}"
    return runs[0] if runs else None


def _finished(dagster: DagsterDev, run_id: str) -> str | None:
    """The final status of ``run_id``, or None while it is queued or running."""
    run = dagster.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
    assert run["__typename"] == "Run", run
    return run["status"] if run["status"] in {"SUCCESS", "FAILURE", "CANCELED"} else None


def _run_to_success(dagster: DagsterDev, job: str, tags: dict[str, str] | None = None) -> str:
    """Launch a run of ``job`` through GraphQL (not the UI); its id once it succeeded."""
    params = {
        "selector": {**REPOSITORY_SELECTOR, "jobName": job},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    launched = dagster.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = poll(
        lambda: _finished(dagster, run_id),
        RUN_TIMEOUT_S,
        f"the {job} run {run_id} to finish",
        give_up=dagster.died,
    )
    assert status == "SUCCESS", f"the {job} run {run_id} ended {status}"
    return run_id


def _latest_metadata(dagster: DagsterDev, key: tuple[str, ...]) -> dict[str, Any] | None:
    """The latest materialization of ``key``: its run id and metadata entries by label."""
    keys = [{"path": list(key)}]
    (node,) = dagster.graphql(LATEST_METADATA, {"keys": keys})["assetNodes"]
    if not node["assetMaterializations"]:
        return None
    (latest,) = node["assetMaterializations"]
    return {
        "runId": latest["runId"],
        "metadata": {entry["label"]: entry for entry in latest["metadataEntries"]},
    }


@pytest.fixture(scope="module")
def activity_run(ui_sandbox: SandboxServer, dagster: DagsterDev) -> str:
    """A run of ``analytics_api_activity_sync`` over every day of the sandbox's activity (one
    run, a range of partitions, launched through GraphQL), so that the models read replies."""
    first, end = ui_sandbox.activity_days  # [first, end): the range's last day is end - 1
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": (end - timedelta(days=1)).isoformat(),
    }
    return _run_to_success(dagster, "analytics_api_activity_sync", tags)


def test_materialize_all_from_the_asset_graph(
    page: Page, activity_run: str, dagster: DagsterDev, artifacts: Path
) -> None:  # page first: without a browser, skip before starting `dagster dev`
    """Lineage, the sync job's "Materialize all" (after a run of the activity job, launched
    through GraphQL), the run, and the leads page with its row count and checks."""
    # The global lineage shows every raw table and model; GraphQL has the edges between them.
    lineage_link = page.get_by_role("navigation").get_by_role("link", name=re.compile("Lineage$"))
    lineage_link.click()
    expect(page.get_by_text("Global asset lineage", exact=True)).to_be_visible()
    page.get_by_role("button", name="settings", exact=True).click()  # the graph's own settings
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")
    graph = page.locator("svg foreignObject")
    expect(graph.get_by_text("Latest event", exact=True).first).to_be_visible()  # laid out
    page.mouse.move(VIEWPORT["width"] * 0.6, VIEWPORT["height"] * 0.6)  # over the graph
    page.keyboard.down("Control")  # the graph zooms on Ctrl + wheel (a bare wheel pans)
    for _ in range(ZOOM_OUT_STEPS):  # ten tables and four models: zoom out until all are drawn
        page.mouse.wheel(0, 120)
    page.keyboard.up("Control")
    page.screenshot(path=artifacts / "00-zoom.png")
    for name in (*RAW_ASSETS, *MODELS):
        expect(graph.get_by_text(_drawn_name(name))).to_be_visible()
    page.mouse.move(0, 0)  # no node hovered (hovering highlights its edges)
    page.screenshot(path=artifacts / "01-asset-graph.png")
    nodes = dagster.graphql(ASSET_NODES)["assetNodes"]
    lineage = {
        tuple(node["assetKey"]["path"]): {tuple(dep["path"]) for dep in node["dependencyKeys"]}
        for node in nodes
    }
    assert lineage == LINEAGE

    # The sync job's "Materialize all" launches one run of its assets (and their checks); it
    # succeeds. (The global graph's would also ask which days of events and replies to read.)
    page.goto(f"{dagster.url}/locations/{LOCATION}/jobs/analytics_api_sync")
    page.get_by_role("button", name="Materialize all").click()
    expect(page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))).to_be_visible()
    run_id = poll(
        lambda: _ui_run(dagster), 30, "the run launched from the UI", give_up=dagster.died
    )["runId"]
    status = poll(
        lambda: _finished(dagster, run_id),
        RUN_TIMEOUT_S,
        f"run {run_id} to finish",
        give_up=dagster.died,
    )
    page.goto(f"{dagster.url}/runs/{run_id}")
    expect(page.get_by_text(re.compile("^(Success|Failure|Canceled)$"))).to_be_visible()
    page.screenshot(path=artifacts / "02-run.png")
    assert status == "SUCCESS", f"run {run_id} ended {status}; see {artifacts / '02-run.png'}"
    expect(page.get_by_text("Success", exact=True)).to_be_visible()

    # The run materialized every asset of the job, none of the daily ones (still those of the
    # activity run); the graph (the nodes in view: the graph draws only those) shows them
    # materialized.
    latest = dagster.graphql(LATEST_RUNS)["assetNodes"]
    by_asset = {
        tuple(n["assetKey"]["path"])[-1]: n["assetMaterializations"][0]["runId"]
        for n in latest
        if n["assetMaterializations"]
    }
    assert by_asset == {
        **dict.fromkeys((*SYNC_ASSETS, *SYNC_MODELS), run_id),
        **dict.fromkeys((*ACTIVITY_ASSETS, *DAILY_MODELS), activity_run),
    }
    lineage_link.click()
    expect(graph.get_by_text("Materialized", exact=True).first).to_be_visible()
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "03-asset-graph-materialized.png")

    # The leads page shows the rows loaded and the checks that passed.
    page.goto(f"{dagster.url}/assets/analytics_api/leads")
    row_count = page.locator("div").filter(  # .last: the innermost box, the "Row count" stat
        has=page.get_by_text("Row count", exact=True), has_text="2,500"
    )
    expect(row_count.last).to_have_text(re.compile(r"^\s*Row count\s*2,500\s*$"))
    expect(page.get_by_text("Latest check results", exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "04-asset-leads.png")
    page.get_by_role("tab", name="Checks").click()
    not_null = page.get_by_text("not_null", exact=True).filter(visible=True)
    expect(page.locator("div").filter(has=not_null, has_text="Succeeded").last).to_be_visible()
    not_null.first.click()
    expect(page).to_have_url(re.compile(r"[?&]checkDetail=not_null(&|$)"))
    expect(page.get_by_text("Evaluation result", exact=True)).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "05-asset-leads-checks.png")


def test_a_models_page_shows_its_row_count_top_rows_and_column_lineage(
    page: Page, activity_run: str, dagster: DagsterDev, artifacts: Path
) -> None:
    """campaign_funnel's page: its row count and its preview, the campaign with the most
    replies first, as the raw tables in the warehouse have it. Its column lineage through
    GraphQL: viewing column lineage in the UI is a Dagster+ feature."""
    latest = _latest_metadata(dagster, FUNNEL_KEY)
    if latest is None:  # not run after the "Materialize all" test
        _run_to_success(dagster, "analytics_api_sync")
        latest = _latest_metadata(dagster, FUNNEL_KEY)
    assert latest is not None
    # The runs have ended: no process holds the warehouse (DuckDB admits one writing process).
    path = dagster.log_path.parent / WAREHOUSE_FILE
    with duckdb.connect(str(path), read_only=True) as warehouse:
        top = warehouse.execute(TOP_CAMPAIGN).fetchall()
        ((campaigns,),) = warehouse.execute(LIVE_CAMPAIGNS).fetchall()
    assert top, f"no replies in the warehouse after the activity run {activity_run}"
    ((campaign_id, campaign_name, replies),) = top
    metadata = latest["metadata"]
    assert metadata["dagster/row_count"]["intValue"] == campaigns
    assert metadata["preview"]["__typename"] == "TableMetadataEntry"
    lineage = {
        column["columnName"]: {
            (tuple(dep["assetKey"]["path"]), dep["columnName"]) for dep in column["columnDeps"]
        }
        for column in metadata["dagster/column_lineage"]["lineage"]
    }
    assert set(lineage) == set(FUNNEL_COLUMNS)
    assert lineage["campaign_name"] == {(("analytics_api", "campaigns"), "name")}
    assert lineage["replies"] == {
        (("analytics_api", "replies"), "campaign_id"),
        (("analytics_api", "replies"), "id"),
    }

    page.goto(f"{dagster.url}/assets/{'/'.join(FUNNEL_KEY)}")
    row_count = page.locator("div").filter(  # .last: the innermost box, the "Row count" stat
        has=page.get_by_text("Row count", exact=True), has_text=f"{campaigns:,}"
    )
    expect(row_count.last).to_have_text(re.compile(rf"^\s*Row count\s*{campaigns:,}\s*$"))
    preview = (  # .last: the preview's own table, inside the table of the metadata entries
        page.get_by_role("table")
        .filter(has=page.get_by_role("columnheader", name="campaign_name", exact=True))
        .last
    )
    rows = preview.get_by_role("row")
    expect(rows).to_have_count(1 + min(PREVIEW_ROWS, campaigns))  # the header, the top rows
    expect(rows.first.get_by_role("columnheader")).to_have_text(list(FUNNEL_COLUMNS))
    top_row = rows.nth(1).get_by_role("cell")
    expect(top_row.nth(FUNNEL_COLUMNS.index("campaign_id"))).to_have_text(campaign_id)
    expect(top_row.nth(FUNNEL_COLUMNS.index("campaign_name"))).to_have_text(campaign_name or "")
    expect(top_row.nth(FUNNEL_COLUMNS.index("replies"))).to_have_text(str(replies))

    # The screenshot of the README (docs/model-page.png): the status with the row count, then
    # the preview, the navigation and the column docs folded away to leave it room.
    page.get_by_role("button", name="Hide navigation").click()
    columns = page.get_by_role("button").filter(has=page.get_by_text("Columns", exact=True))
    columns.click()
    expect(columns).to_have_attribute("aria-expanded", "false")
    expect(rows.nth(1)).to_be_in_viewport()
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "07-asset-campaign-funnel.png", animations="disabled")


def test_schedules_stopped_sensors_running_and_ticking(dagster: DagsterDev) -> None:
    """Schedules load STOPPED, sensors RUNNING, and the daemon ticks every sensor."""
    repo = {"repo": REPOSITORY_SELECTOR}
    schedules = _results(dagster.graphql(SCHEDULE_STATES, repo), "schedulesOrError", "Schedules")
    assert {s["name"]: s["scheduleState"]["status"] for s in schedules} == dict.fromkeys(
        SCHEDULES, "STOPPED"
    )

    def ticks() -> dict[str, list[dict[str, Any]]] | None:
        sensors = _results(dagster.graphql(SENSOR_TICKS, repo), "sensorsOrError", "Sensors")
        assert {s["name"]: s["sensorState"]["status"] for s in sensors} == dict.fromkeys(
            SENSORS, "RUNNING"
        )
        by_sensor = {s["name"]: s["sensorState"]["ticks"] for s in sensors}
        return by_sensor if all(by_sensor.values()) else None

    by_sensor = poll(ticks, TICK_TIMEOUT_S, "a tick of every sensor", give_up=dagster.died)
    failed = {
        name: tick
        for name, ticks_ in by_sensor.items()
        for tick in ticks_
        if tick["status"] == "FAILURE"
    }
    assert not failed, f"sensor ticks failed: {failed}"


def test_the_api_and_warehouse_resources_show_their_fields_and_variables(
    page: Page, dagster: DagsterDev, artifacts: Path
) -> None:
    """Deployment -> the code location -> Resources: each field, and the variable it comes from."""
    details = {}
    for name in ("api", "warehouse"):
        selector = {**REPOSITORY_SELECTOR, "resourceName": name}
        answer = dagster.graphql(RESOURCE, {"selector": selector})["topLevelResourceDetailsOrError"]
        assert answer["__typename"] == "ResourceDetails", answer
        details[name] = answer
    api_fields = {field["name"] for field in details["api"]["configFields"]}
    assert api_fields == {
        "base_url",
        "key_header",
        "api_key",
        "max_attempts",
        "backoff_factor",
        "timeout_s",
        "max_wait_s",
        "requests_per_minute",
        "max_concurrency",
        "leads_overlap_s",
    }
    configured = {v["key"]: (v["type"], v["value"]) for v in details["api"]["configuredValues"]}
    assert configured["base_url"] == ("ENV_VAR", "ANALYTICS_API_BASE_URL")
    assert configured["api_key"] == ("ENV_VAR", "ANALYTICS_API_KEY")  # the name, not the key
    warehouse = {v["key"]: v for v in details["warehouse"]["configuredValues"]}
    assert (warehouse["duckdb_path"]["type"], warehouse["duckdb_path"]["value"]) == (
        "ENV_VAR",
        "ANALYTICS_DUCKDB_PATH",
    )

    page.goto(f"{dagster.url}/locations/analytics_assets/resources/api")
    expect(page.get_by_text("ANALYTICS_API_KEY", exact=True).first).to_be_visible()
    expect(page.get_by_text("timeout_s", exact=True).first).to_be_visible()
    page.screenshot(path=artifacts / "06-resource-api.png")
