"""Records an API served twice in one read: one row per id kept, right after the load.

dlt's merge de-duplicates the staged rows by primary key with ``ROW_NUMBER() OVER (PARTITION BY
id)``, a window that holds every column of every staged row: about 1 GB for 1M leads on DuckDB,
most of a sync's memory. The raw tables therefore load with the ``deduplicated`` option of dlt's
``delete-insert`` merge (``MERGE_WITHOUT_DEDUP`` in api/source.py), which skips that pass, and
the sync calls ``remove_repeated_rows`` after the load: a count of the distinct ids of the
load's rows and, only when an id repeats, one ``DELETE`` of the extra rows. dlt offers no public
hook to make its own pass cheaper; its ``deduplicated`` option is public (dlt 1.12).

Between the load's commit and that ``DELETE`` the table holds both copies of a repeated record;
a process killed right there leaves them. The ``primary_key`` check then fails (ERROR, blocking
the models) until a load of that id replaces both (dlt's merge deletes every row of an id it
loads): the next read of a table read in full; for leads, read incrementally, the next change
of that lead or the weekly full refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dlt

from analytics_assets.schema import Table
from analytics_assets.warehouse.sql import Warehouse


def remove_repeated_rows(
    pipeline: dlt.Pipeline, tables: Iterable[Table], load_ids: Sequence[str]
) -> dict[str, int]:
    """Delete all but one row of each id that ``load_ids`` wrote more than once in each of
    ``tables``; the rows removed per table (tables without any left out)."""
    if not load_ids:
        return {}
    removed: dict[str, int] = {}
    with pipeline.sql_client() as client:
        warehouse = Warehouse.of(pipeline, client)
        present = warehouse.tables()
        for table in tables:
            if table.name in present:
                count = _remove_repeats(warehouse, table, load_ids)
                if count:
                    removed[table.name] = count
    return removed


def _remove_repeats(warehouse: Warehouse, table: Table, load_ids: Sequence[str]) -> int:
    qualified = warehouse.table(table.name)
    key, row = warehouse.column(table.primary_key), warehouse.column("_dlt_id")
    load = warehouse.column("_dlt_load_id")
    placeholders = ", ".join(["%s"] * len(load_ids))
    repeated = warehouse.scalar(
        f"SELECT COUNT({key}) - COUNT(DISTINCT {key}) FROM {qualified} "
        f"WHERE {load} IN ({placeholders})",
        *load_ids,
    )
    if not repeated:
        return 0
    # EXISTS, not NOT IN: PostgreSQL, once it knows the load is large, runs a NOT IN subquery
    # again for every row (hours at 150k rows); both engines run this as a join.
    warehouse.client.execute_sql(
        f"DELETE FROM {qualified} AS later WHERE later.{load} IN ({placeholders}) AND EXISTS ("
        f"SELECT 1 FROM {qualified} AS kept WHERE kept.{load} IN ({placeholders}) "
        f"AND kept.{key} = later.{key} AND kept.{row} < later.{row})",
        *load_ids,
        *load_ids,
    )
    return int(repeated)
