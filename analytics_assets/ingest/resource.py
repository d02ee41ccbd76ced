"""dagster-dlt's resource with metadata that is right and safe to compute twice.

Why a subclass: dagster-dlt's ``extract_resource_metadata`` pops keys out of the live dlt schema
(a second run in the same process fails with ``KeyError: 'name'``, dagster#34052), names the dlt
schema instead of the dataset in ``dagster/table_name``, and its ``fetch_row_count()`` fails
when a load was empty. This one reads nothing from the dlt schema: column docs come from
schema.py and the row counts from the warehouse, all tables in one query per load (a session per
table cost about 25 ms each).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource
from dlt.common.pipeline import LoadInfo
from dlt.extract.resource import DltResource
from dlt.pipeline.pipeline import Pipeline
from pydantic import PrivateAttr

from analytics_assets.ingest.specs import table_column_schema
from analytics_assets.schema import API_NAME, TABLES_BY_NAME
from analytics_assets.warehouse.sql import Warehouse


def count_rows(pipeline: Pipeline, table_names: Iterable[str]) -> dict[str, int]:
    """Rows in each of ``table_names`` in the pipeline's dataset, in one query; a table no
    load has created yet is missing from the answer (0 rows)."""
    with pipeline.sql_client() as client:
        warehouse = Warehouse.of(pipeline, client)
        present = sorted(set(table_names) & warehouse.tables())
        if not present:
            return {}
        sql = " UNION ALL ".join(
            f"SELECT %s, COUNT(*) FROM {warehouse.table(name)}" for name in present
        )
        return {str(name): int(count) for name, count in warehouse.rows(sql, *present)}


class AnalyticsDltResource(DagsterDltResource):
    """Runs the dlt pipeline for the raw assets (see the module docstring for why)."""

    _counted: tuple[LoadInfo, dict[str, int]] | None = PrivateAttr(default=None)

    def rows_after(self, load_info: LoadInfo, dlt_pipeline: Pipeline) -> dict[str, int]:
        """Rows per table after ``load_info``'s load, counted on the first call for it."""
        if self._counted is None or self._counted[0] is not load_info:
            self._counted = (load_info, count_rows(dlt_pipeline, TABLES_BY_NAME))
        return self._counted[1]

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
            "dagster/row_count": dg.MetadataValue.int(
                self.rows_after(load_info, dlt_pipeline).get(table.name, 0)
            ),
            "dagster/table_name": f"{API_NAME}.{table.name}",
            "dagster/column_schema": table_column_schema(table),
            "rows_loaded": dg.MetadataValue.int(rows_loaded),
            "dlt_load_ids": dg.MetadataValue.text(", ".join(load_info.loads_ids)),
            "destination": dg.MetadataValue.text(dlt_pipeline.destination.destination_name),
        }
