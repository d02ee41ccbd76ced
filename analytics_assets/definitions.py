"""The code location: composes the one ``Definitions`` from explicit lists, nothing else."""

import dagster as dg

from analytics_assets.api.resource import AnalyticsApiResource
from analytics_assets.automation import (
    analytics_api_full_refresh,
    analytics_api_sync,
    analytics_automation_sensor,
    analytics_run_failure_sensor,
    build_schedules,
    with_freshness,
)
from analytics_assets.checks.assets import TABLE_CHECKS
from analytics_assets.ingest.assets import analytics_api_raw
from analytics_assets.ingest.resource import AnalyticsDltResource
from analytics_assets.models.assets import MODEL_ASSETS
from analytics_assets.settings import load_automation_settings
from analytics_assets.warehouse.resource import WarehouseResource

automation = load_automation_settings()  # schedules and policies are part of the definitions

defs = dg.Definitions(
    assets=with_freshness([analytics_api_raw, *MODEL_ASSETS], automation),
    asset_checks=TABLE_CHECKS,
    jobs=[analytics_api_sync, analytics_api_full_refresh],
    schedules=build_schedules(automation),
    sensors=[analytics_automation_sensor, analytics_run_failure_sensor],
    resources={
        "dlt": AnalyticsDltResource(),
        "api": AnalyticsApiResource.from_env(),  # documented variables set at load: EnvVars
        "warehouse": WarehouseResource.from_env(),
    },
)
