"""Records an API served twice in one read: one row per id kept, right after the load.

dlt's merge de-duplicates the staged rows by primary key with ``ROW_NUMBER() OVER (PARTITION BY
id)``, a window that holds every column of every staged row: about 1 GB for 1M leads on DuckDB,
most of a sync's memory. The raw tables therefore load with the ``deduplicated`` option of dlt's
``delete-insert`` merge (``MERGE_WITHOUT_DEDUP`` in api/source.py), which skips that pass, and
the sync calls ``remove_repeated_rows`` after the load: a count of the distinct ids of the
load's rows and, only when an id repeats, one ``DELETE`` of the extra rows. dlt offers no public
hook to make its own pass cheaper; its ``deduplicated`` option is public (dlt 1.12).

Between the load's commit and that ``DELETE`` the table holds both copies of a repeated record;
a process killed right there leaves them, the ``primary_key`` check then fails (ERROR, blocking
the models), and the next load of that id replaces both (dlt's merge deletes every row of an id
it loads).
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
    key = warehouse.column(table.primary_key)
    row = warehouse.column("_dlt_id")
    in_load = (
        f"{warehouse.column('_dlt_load_id')} IN ({', '.join(['%s'] * len(load_ids))}) "
        f"AND {key} IS NOT NULL"
    )
    repeated = warehouse.scalar(
        f"SELECT COUNT(*) - COUNT(DISTINCT {key}) FROM {qualified} WHERE {in_load}", *load_ids
    )
    if not repeated:
        return 0
    warehouse.client.execute_sql(
        f"DELETE FROM {qualified} WHERE {in_load} AND {row} NOT IN ("
        f"SELECT MIN({row}) FROM {qualified} WHERE {in_load} GROUP BY {key})",
        *load_ids,
        *load_ids,
    )
    return int(repeated)
