"""Dagster asset specs for the raw tables, derived from schema.py.

``AnalyticsDltTranslator`` hands these to dagster-dlt, so the keys dagster-dlt maps resources to
at run time are the same keys the definitions declare.
"""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from analytics_assets.schema import (
    API_NAME,
    DELETED_AT,
    DELETED_AT_DESCRIPTION,
    SYNC_TABLES,
    TABLES_BY_NAME,
    Column,
    Table,
)
from analytics_assets.settings import AutomationSettings, configured_destination

OWNERS = ["team:data-engineering"]
DAGSTER_TYPES = {
    "string": "string",
    "boolean": "boolean",
    "integer": "int",
    "timestamp": "timestamp",
    "json": "json",
}


def raw_asset_key(table: Table) -> dg.AssetKey:
    """``analytics_api/<table>``."""
    return dg.AssetKey([API_NAME, table.name])


def table_column_schema(table: Table) -> dg.TableSchema:
    """The UI's column docs: the seed's names, types, nullability and descriptions, and
    ``_deleted_at`` on the tables read in full."""
    columns = [_table_column(table, column) for column in table.columns]
    if table in SYNC_TABLES:
        columns.append(dg.TableColumn(DELETED_AT, "timestamp", DELETED_AT_DESCRIPTION))
    return dg.TableSchema(columns=columns)


def _table_column(table: Table, column: Column) -> dg.TableColumn:
    is_key = column.name == table.primary_key
    return dg.TableColumn(
        name=column.name,
        type=DAGSTER_TYPES[column.type],
        description=column.description,
        constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=is_key),
    )


def activity_partitions(settings: AutomationSettings) -> dg.DailyPartitionsDefinition:
    """UTC days from ``ANALYTICS_HISTORY_START`` up to the day that ended last."""
    return dg.DailyPartitionsDefinition(start_date=settings.history_start, timezone="UTC")


def _read_from(table: Table) -> str:
    """How ``table`` is read, for its description."""
    how = f"GET {table.path}"
    if table.parent is not None:
        how += f" for every {table.parent.table[:-1]}"
    if table.window is not None:
        how += f" by UTC day of {table.window.column}"
    return how


def raw_asset_spec(
    table: Table,
    destination: str | None = None,
    partitions: dg.PartitionsDefinition | None = None,
) -> dg.AssetSpec:
    """The asset spec of one raw table loaded by dlt into ``destination`` (default: configured);
    a per-parent table depends on its parent's asset (lineage: campaigns -> replies)."""
    destination = destination or configured_destination()
    parent = TABLES_BY_NAME[table.parent.table] if table.parent else None
    return dg.AssetSpec(
        key=raw_asset_key(table),
        description=f"{table.description} Loaded by dlt from {_read_from(table)} (merge on id).",
        group_name=API_NAME,
        owners=OWNERS,
        kinds={"dlt", destination},
        deps=[raw_asset_key(parent)] if parent else [],
        partitions_def=partitions,
        metadata={
            "dagster/column_schema": table_column_schema(table),
            "dagster/table_name": f"{API_NAME}.{table.name}",
        },
    )


class AnalyticsDltTranslator(DagsterDltTranslator):
    """Maps each dlt resource to the spec schema.py declares for its table."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        return raw_asset_spec(TABLES_BY_NAME[data.resource.name])
