"""Set-based SQL against the destination, through dlt's SQL client.

Checks and models talk to the warehouse only through this class, in standard SQL, so that they
run wherever dlt loads. What differs per destination (type names) is isolated and named here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import dlt
from dlt.destinations.sql_client import SqlClientBase

from analytics_assets.schema import FieldType
from analytics_assets.settings import Settings
from analytics_assets.warehouse.lock import (
    WarehouseInUseError,
    describe_lock_conflict,
    wait_for_warehouse,
)
from analytics_assets.warehouse.pipeline import (
    analytics_pipeline,
    destination_settings_error,
    private_workdir,
)

STANDARD_TYPES: dict[FieldType, str] = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
}
DUCKDB_FAMILY = frozenset({"duckdb", "motherduck"})
SQL_TYPES: dict[str, dict[FieldType, str]] = {
    # information_schema.columns.data_type of each declared type, per dlt destination type.
    # The one destination-specific piece of the checks and models; a destination missing here
    # still loads, checks and models, but column_types then checks names only (it says so).
    "duckdb": STANDARD_TYPES,
    "motherduck": STANDARD_TYPES,
    "postgres": {
        "string": "CHARACTER VARYING",
        "boolean": "BOOLEAN",
        "integer": "BIGINT",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "json": "JSON",
    },
}


class Warehouse:
    """A thin, typed view of a dlt SQL client bound to the raw dataset.

    Args:
        client: An open dlt SQL client.
        destination_type: dlt's destination type name, e.g. ``duckdb``.
    """

    def __init__(self, client: SqlClientBase[Any], destination_type: str) -> None:
        self.client = client
        self.destination_type = destination_type

    @classmethod
    def of(cls, pipeline: dlt.Pipeline, client: SqlClientBase[Any]) -> Warehouse:
        """The warehouse of ``pipeline``, through ``client`` (one of its open SQL clients)."""
        destination = pipeline.destination
        return cls(client, destination.to_name(destination.destination_type))

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (``%s`` placeholders for ``args``)."""
        return [tuple(row) for row in self.client.execute_sql(sql, *args) or []]

    def scalar(self, sql: str, *args: Any) -> Any:
        """The first value of the first row of ``sql``."""
        rows = self.rows(sql, *args)
        return rows[0][0] if rows else None

    def table(self, name: str, staging: bool = False) -> str:
        """``name`` qualified with the dataset (or its staging dataset) and quoted."""
        if staging:
            with self.client.with_staging_dataset():
                return self.client.make_qualified_table_name(name)
        return self.client.make_qualified_table_name(name)

    def other_schema_path(self, schema: str, table: str | None = None) -> str:
        """``schema`` (or ``schema.table``) outside the raw dataset, quoted.

        DuckDB names its catalog after the file, so a file named like the schema would make a
        bare ``schema.x`` ambiguous between the two; on DuckDB the path starts with the catalog
        (``current_database()``). PostgreSQL does not take a catalog in ``CREATE SCHEMA``, and
        needs none.
        """
        catalog = None
        if self.destination_type in DUCKDB_FAMILY:
            catalog = str(self.scalar("SELECT current_database()"))
        client = self.client
        return ".".join(
            client.make_qualified_table_name_path(table, dataset_name=schema, catalog=catalog)
        )

    def column(self, name: str) -> str:
        """``name`` quoted as a column identifier."""
        return self.client.escape_column_name(name)

    def _schema_name(self, staging: bool) -> str:
        if staging:
            with self.client.with_staging_dataset():
                return self.client.make_qualified_table_name_path(None, quote=False)[-1]
        return self.client.make_qualified_table_name_path(None, quote=False)[-1]

    def tables(self, staging: bool = False) -> set[str]:
        """Names of the tables in the dataset (or its staging dataset)."""
        rows = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            self._schema_name(staging),
        )
        return {row[0] for row in rows}

    def columns(self, table: str, staging: bool = False) -> dict[str, str]:
        """Column name -> upper-cased ``information_schema`` data type of ``table``."""
        rows = self.rows(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            self._schema_name(staging),
            table,
        )
        return {name: str(data_type).upper() for name, data_type in rows}

    @property
    def knows_types(self) -> bool:
        """Whether SQL_TYPES says how declared types look in this destination."""
        return self.destination_type in SQL_TYPES

    def sql_type(self, field_type: FieldType) -> str:
        """The ``information_schema`` type name a declared type loads as here."""
        return SQL_TYPES.get(self.destination_type, STANDARD_TYPES)[field_type]


@contextmanager
def open_warehouse(
    settings: Settings, log: Callable[[str], None] | None = None
) -> Iterator[Warehouse]:
    """A ``Warehouse`` over the raw dataset the settings point at (``log``: a wait for it).

    It opens the warehouse at once and waits (``wait_for_warehouse``) only if another process
    holds it: a check or model step opens one session, and probing first cost as much again.
    """
    with ExitStack() as stack:
        workdir = stack.enter_context(private_workdir(settings))
        pipeline = analytics_pipeline(settings, workdir, resolve_now=False)
        try:
            client = stack.enter_context(pipeline.sql_client())
        except Exception as error:
            settings_error = destination_settings_error(settings, error)
            if settings_error is not None:
                raise settings_error from None
            # Waits out another process's hold; names a path that is no DuckDB file.
            wait_for_warehouse(settings, log)
            if describe_lock_conflict(error) is None:
                raise
            client = _connect_after_wait(stack, pipeline)
        yield Warehouse.of(pipeline, client)


def _connect_after_wait(stack: ExitStack, pipeline: dlt.Pipeline) -> SqlClientBase[Any]:
    try:
        return stack.enter_context(pipeline.sql_client())
    except Exception as error:
        conflict = describe_lock_conflict(error)
        if conflict is None:
            raise
        raise WarehouseInUseError(conflict) from error
