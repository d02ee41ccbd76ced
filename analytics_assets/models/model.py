"""What a model is: one SELECT in ``sql/<name>.sql`` and the declaration of its columns.

The declaration is the only place a model's columns are named, typed, described and traced to
the raw columns they come from; the UI's column docs and column lineage derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import dagster as dg

from analytics_assets.ingest.specs import DAGSTER_TYPES, raw_asset_key
from analytics_assets.schema import Table

KEY_PREFIX = "analytics"
"""The models' asset key prefix: ``analytics/<name>``."""
SCHEMA = "analytics_models"
"""The warehouse schema the models are built in. Not ``analytics``: DuckDB names a file's
catalog after it, so with the default ``data/analytics.duckdb`` a bare ``analytics.<name>``
would be ambiguous in the DuckDB CLI."""
SQL_DIR = files(__package__).joinpath("sql")  # a handle only: files are read at run time
PREVIEW_ROWS = 10


@dataclass(frozen=True)
class ModelColumn:
    """One column of a model's result, in the order the SELECT returns it."""

    name: str
    type: str  # a Dagster TableColumn type: string, int, float, timestamp, date
    description: str
    reads: tuple[tuple[Table, str], ...] = ()
    """The raw columns its values come from (column lineage)."""


@dataclass(frozen=True)
class Model:
    """A table built by ``sql/<name>.sql`` from the raw tables it ``reads``.

    ``preview_order`` is the ORDER BY of the top rows each materialization shows. A model with
    a ``day_column`` is partitioned by UTC day like the daily raw tables it reads: a partition
    (or a range) rebuilds exactly those days, from the rows of its sources in those days.
    """

    name: str
    description: str
    reads: tuple[Table, ...]
    columns: tuple[ModelColumn, ...]
    preview_order: str
    day_column: str | None = None

    @property
    def key(self) -> dg.AssetKey:
        """``analytics/<name>``."""
        return dg.AssetKey([KEY_PREFIX, self.name])

    @property
    def table_name(self) -> str:
        """``analytics_models.<name>``, the warehouse table."""
        return f"{SCHEMA}.{self.name}"

    @property
    def column_schema(self) -> dg.TableSchema:
        """The UI's column docs, derived from ``columns``."""
        return dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type, c.description) for c in self.columns]
        )

    @property
    def column_lineage(self) -> dg.TableColumnLineage:
        """Each column's raw columns, for the UI's column lineage."""
        return dg.TableColumnLineage(
            deps_by_column={
                column.name: [
                    dg.TableColumnDep(asset_key=raw_asset_key(table), column_name=raw)
                    for table, raw in column.reads
                ]
                for column in self.columns
                if column.reads
            }
        )

    def select_sql(self) -> str:
        """The model's SELECT, read from the package (so it ships with the code)."""
        return SQL_DIR.joinpath(f"{self.name}.sql").read_text(encoding="utf-8").strip()


def copied(table: Table, column: str, name: str | None = None) -> ModelColumn:
    """A column passed through from a raw table, keeping the description schema.py gives it."""
    declared = table.column(column)
    return ModelColumn(
        name or column, DAGSTER_TYPES[declared.type], declared.description, ((table, column),)
    )
