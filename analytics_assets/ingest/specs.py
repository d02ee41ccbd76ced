"""Dagster asset specs for the raw tables, derived from schema.py.

``AnalyticsDltTranslator`` hands these to dagster-dlt, so the keys dagster-dlt maps resources to
at run time are the same keys the definitions declare.
"""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from analytics_assets.schema import API_NAME, TABLES_BY_NAME, Column, Table
from analytics_assets.settings import configured_destination

OWNERS = ["team:data-engineering"]
DAGSTER_TYPES = {"string": "string", "boolean": "boolean", "integer": "int"}


def raw_asset_key(table: Table) -> dg.AssetKey:
    """``analytics_api/<table>``."""
    return dg.AssetKey([API_NAME, table.name])


def table_column_schema(table: Table) -> dg.TableSchema:
    """The UI's column docs: the seed's names, types, nullability and descriptions."""
    return dg.TableSchema(columns=[_table_column(table, column) for column in table.columns])


def _table_column(table: Table, column: Column) -> dg.TableColumn:
    is_key = column.name == table.primary_key
    return dg.TableColumn(
        name=column.name,
        type=DAGSTER_TYPES[column.type],
        description=column.description,
        constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=is_key),
    )


def raw_asset_spec(table: Table, destination: str | None = None) -> dg.AssetSpec:
    """The asset spec of one raw table loaded by dlt into ``destination`` (default: configured)."""
    destination = destination or configured_destination()
    return dg.AssetSpec(
        key=raw_asset_key(table),
        description=f"{table.description} Loaded by dlt from GET /{table.name} (merge on id).",
        group_name=API_NAME,
        owners=OWNERS,
        kinds={"dlt", destination},
        metadata={
            "dagster/column_schema": table_column_schema(table),
            "dagster/table_name": f"{API_NAME}.{table.name}",
        },
    )


class AnalyticsDltTranslator(DagsterDltTranslator):
    """Maps each dlt resource to the spec schema.py declares for its table."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        return raw_asset_spec(TABLES_BY_NAME[data.resource.name])
