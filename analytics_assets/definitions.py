"""The code location: composes the one ``Definitions`` from explicit lists, nothing else."""

import dagster as dg

from analytics_assets.automation import analytics_api_sync
from analytics_assets.checks.assets import analytics_api_checks
from analytics_assets.ingest.assets import analytics_api_raw
from analytics_assets.ingest.resource import AnalyticsDltResource
from analytics_assets.models.assets import analytics_models

defs = dg.Definitions(
    assets=[analytics_api_raw, analytics_models],
    asset_checks=[analytics_api_checks],
    jobs=[analytics_api_sync],
    resources={"dlt": AnalyticsDltResource()},
)
