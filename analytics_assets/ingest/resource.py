"""dagster-dlt's resource with metadata that is right and safe to compute twice.

Why a subclass: dagster-dlt's ``extract_resource_metadata`` pops keys out of the live dlt schema
(a second run in the same process fails with ``KeyError: 'name'``, dagster#34052), names the dlt
schema instead of the dataset in ``dagster/table_name``, and its ``fetch_row_count()`` fails
when a load was empty. This one reads nothing from the dlt schema: column docs come from
schema.py and the row count from the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource
from dlt.common.pipeline import LoadInfo
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract.resource import DltResource
from dlt.pipeline.pipeline import Pipeline

from analytics_assets.ingest.specs import table_column_schema
from analytics_assets.schema import API_NAME, TABLES_BY_NAME


def count_rows(pipeline: Pipeline, table_name: str) -> int:
    """Rows in ``table_name`` of the pipeline's dataset; 0 when no load has created it yet."""
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table_name)
        try:
            rows = client.execute_sql(f"SELECT COUNT(*) FROM {qualified}")
        except DatabaseUndefinedRelation:
            return 0
    return int(rows[0][0]) if rows else 0


class AnalyticsDltResource(DagsterDltResource):
    """Runs the dlt pipeline for the raw assets (see the module docstring for why)."""

    def extract_resource_metadata(
        self,
        context: dg.OpExecutionContext | dg.AssetExecutionContext,
        resource: DltResource,
        load_info: LoadInfo,
        dlt_pipeline: Pipeline,
    ) -> Mapping[str, Any]:
        table = TABLES_BY_NAME[resource.name]
        trace = dlt_pipeline.last_trace
        normalize_info = trace.last_normalize_info if trace else None
        rows_loaded = normalize_info.row_counts.get(table.name, 0) if normalize_info else 0
        return {
            "dagster/row_count": dg.MetadataValue.int(count_rows(dlt_pipeline, table.name)),
            "dagster/table_name": f"{API_NAME}.{table.name}",
            "dagster/column_schema": table_column_schema(table),
            "rows_loaded": dg.MetadataValue.int(rows_loaded),
            "dlt_load_ids": dg.MetadataValue.text(", ".join(load_info.loads_ids)),
            "destination": dg.MetadataValue.text(dlt_pipeline.destination.destination_name),
        }
