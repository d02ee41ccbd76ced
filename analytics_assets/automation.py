"""Jobs (and, as they come, schedules and sensors) that run the assets."""

from __future__ import annotations

import dagster as dg

from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.models.assets import MODEL_KEYS
from analytics_assets.schema import TABLES

analytics_api_sync = dg.define_asset_job(
    name="analytics_api_sync",
    selection=dg.AssetSelection.assets(*(raw_asset_key(table) for table in TABLES), *MODEL_KEYS),
    description=(
        "Sync users, leads and campaigns from the API into the warehouse, check them, then "
        "rebuild the models (a failed blocking check keeps the models from rebuilding)."
    ),
)
