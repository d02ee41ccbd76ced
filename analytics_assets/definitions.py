"""The code location: composes the one ``Definitions`` from explicit lists, nothing else."""

from collections.abc import Mapping

import dagster as dg

from analytics_assets.api.resource import AnalyticsApiResource
from analytics_assets.automation import (
    analytics_automation_sensor,
    analytics_run_failure_sensor,
    build_jobs,
    build_schedules,
    with_freshness,
)
from analytics_assets.checks.assets import TABLE_CHECKS
from analytics_assets.ingest.assets import activity_asset, ingest_retry_policy, raw_asset
from analytics_assets.ingest.resource import AnalyticsDltResource
from analytics_assets.ingest.specs import activity_partitions
from analytics_assets.models.assets import model_assets
from analytics_assets.settings import AutomationSettings, load_automation_settings
from analytics_assets.warehouse.resource import WarehouseResource


def build_definitions(
    automation: AutomationSettings, resources: Mapping[str, object] | None = None
) -> dg.Definitions:
    """The definitions for ``automation``; ``resources`` replace those the environment sets."""
    retry_policy = ingest_retry_policy(automation)
    jobs = build_jobs(automation)
    days = activity_partitions(automation)
    raw = [raw_asset(retry_policy), activity_asset(retry_policy, days)]
    return dg.Definitions(
        assets=with_freshness([*raw, *model_assets(days)], automation),
        asset_checks=TABLE_CHECKS,
        jobs=list(jobs),
        schedules=build_schedules(automation, jobs),
        sensors=[analytics_automation_sensor, analytics_run_failure_sensor],
        resources={
            "dlt": AnalyticsDltResource(),
            "api": AnalyticsApiResource.from_env(),  # documented variables set at load: EnvVars
            "warehouse": WarehouseResource.from_env(),
            **(resources or {}),
        },
    )


defs = build_definitions(load_automation_settings())  # schedules and policies: read at load
