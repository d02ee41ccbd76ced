"""Set-based SQL against the destination, through dlt's SQL client.

Checks and models talk to the warehouse only through this class, in standard SQL, so that they
run wherever dlt loads. What differs per destination (type names) is isolated and named here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from dlt.destinations.sql_client import SqlClientBase

from analytics_assets.exceptions import exception_chain
from analytics_assets.schema import FieldType
from analytics_assets.settings import Settings, SettingsError

STANDARD_TYPES: dict[FieldType, str] = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
}
DUCKDB_FAMILY = frozenset({"duckdb", "motherduck"})
SQL_TYPES: dict[str, dict[FieldType, str]] = {
    # information_schema.columns.data_type of each declared type, per dlt destination type.
    # The one destination-specific piece of the checks and models; a destination missing here
    # still loads, checks and models, but column_types then checks names only (it says so).
    "duckdb": STANDARD_TYPES,
    "motherduck": STANDARD_TYPES,
    "postgres": {"string": "CHARACTER VARYING", "boolean": "BOOLEAN", "integer": "BIGINT"},
}
DUCKDB_LOCK_CONFLICT = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)": '
    r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)"
)
"""DuckDB's error when another process has the file open (it admits one writing process)."""


class WarehouseInUseError(RuntimeError):
    """The DuckDB file is held by another process."""


def describe_lock_conflict(exc: BaseException) -> str | None:
    """What to tell a person when ``exc`` (or its causes) is DuckDB's lock conflict, else None.

    dlt reports it as a connection failure that suggests checking credentials and the internet
    connection, which is the wrong lead for a file another process holds.
    """
    for error in exception_chain(exc):
        match = DUCKDB_LOCK_CONFLICT.search(str(error))
        if match:
            return (
                f"the DuckDB file {match['path']} is open in another process "
                f"({match['holder']}, PID {match['pid']}), and DuckDB admits one writing process. "
                "Close that process (e.g. a DuckDB CLI or notebook holding the file) or wait "
                "for it to finish; this project's own runs already take turns on the "
                "analytics_warehouse pool."
            )
    return None


class Warehouse:
    """A thin, typed view of a dlt SQL client bound to the raw dataset.

    Args:
        client: An open dlt SQL client.
        destination_type: dlt's destination type name, e.g. ``duckdb``.
    """

    def __init__(self, client: SqlClientBase[Any], destination_type: str) -> None:
        self.client = client
        self.destination_type = destination_type

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


def wait_for_duckdb_file(
    path: Path,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 0.1,
    log: Callable[[str], None] | None = None,
) -> None:
    """Return once no other process holds the DuckDB file at ``path``, or raise after a while.

    DuckDB admits one writing process and fails at once on a held file. Dagster's pool hands
    the warehouse to the next step when the previous one reports success, moments before that
    process exits and DuckDB's lock is released; a DuckDB CLI may hold the file too. Polls with
    a read-only open (which also fails while another process writes). A missing file is free.

    Raises:
        WarehouseInUseError: still held after ``timeout_s``, naming the file and its holder.
        SettingsError: the path is not a DuckDB database at all (a directory, another file).
    """
    import duckdb  # not at import time: the code location loads without it

    deadline = time.monotonic() + timeout_s
    logged = False
    while path.exists():
        try:
            duckdb.connect(str(path), read_only=True).close()
            return
        except duckdb.Error as error:
            conflict = describe_lock_conflict(error)
            if conflict is None:  # not another process's lock: no wait will help
                raise SettingsError(
                    f"ANALYTICS_DUCKDB_PATH: {path} cannot be opened as a DuckDB database "
                    f"({type(error).__name__}: {str(error).splitlines()[0]}); point it at a "
                    "DuckDB file or at a path that does not exist yet"
                ) from None
            if time.monotonic() >= deadline:
                raise WarehouseInUseError(
                    f"{conflict} (waited {timeout_s:g} s; ANALYTICS_DUCKDB_LOCK_WAIT_S)"
                ) from error
            if log is not None and not logged:
                logged = True
                log(f"waiting up to {timeout_s:g} s (ANALYTICS_DUCKDB_LOCK_WAIT_S): {conflict}")
        sleep(poll_s)


def wait_for_warehouse(settings: Settings, log: Callable[[str], None] | None = None) -> None:
    """On DuckDB, ``wait_for_duckdb_file`` for the configured file; other warehouses: return."""
    if settings.destination == "duckdb":
        wait_for_duckdb_file(settings.duckdb_path, settings.duckdb_lock_wait_s, log=log)


@contextmanager
def open_warehouse(
    settings: Settings, log: Callable[[str], None] | None = None
) -> Iterator[Warehouse]:
    """A ``Warehouse`` over the raw dataset the settings point at (``log``: a wait for it)."""
    from analytics_assets.ingest.pipeline import analytics_pipeline, private_workdir

    wait_for_warehouse(settings, log)
    with ExitStack() as stack:
        pipeline = analytics_pipeline(settings, stack.enter_context(private_workdir(settings)))
        try:
            client = stack.enter_context(pipeline.sql_client())
        except Exception as error:
            conflict = describe_lock_conflict(error)
            if conflict is None:
                raise
            raise WarehouseInUseError(conflict) from error
        destination = pipeline.destination
        yield Warehouse(client, destination.to_name(destination.destination_type))
