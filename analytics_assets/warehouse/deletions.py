"""Soft deletes: rows of a table read in full that the read no longer returned.

The API has no deletion feed, so a record deleted there is found only by reading the whole
endpoint and seeing it missing. dlt's merge (delete-insert) rewrites every row a load returns,
stamping it with the load's ``_dlt_load_id``; after a load that read a table completely, a row
is a record the API no longer returns, and gets ``_deleted_at`` (schema.py's ``DELETED_AT``),
when this read's loads did not write it and the load that did had completed (dlt's
``_dlt_loads``) before this read began. Rows another run wrote meanwhile (outside the pool),
whether its read is younger or older than this one, are left alone: a deletion missed now is
found by the next complete read, a live record flagged would leave the models. A record that
comes back is rewritten by the next merge, which lists only dlt's columns, so its
``_deleted_at`` is null again.

Why not dlt's own means: ``scd2`` keeps every version of a row (``id`` is no longer unique, so
every check and join would change) and retires absent rows inside the load, before the sync
knows whether the read was complete; ``replace`` would empty a table on a read that lost pages.
Here the flags are set only for tables whose read is known complete, and for all of them in one
transaction: a process killed before it commits flags nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt

from analytics_assets.schema import DELETED_AT
from analytics_assets.warehouse.pipeline import STALE_WORKDIR_S
from analytics_assets.warehouse.sql import Warehouse

DEFAULT_MAX_DELETED_SHARE = 0.5
"""A read may flag at most this share of a table's rows not flagged yet (run config
``max_deleted_share``)..."""
ALWAYS_FLAGGED_ROWS = 10
"""... or this many rows, whatever the share: a table of a few rows that loses most of them
would otherwise never be reconciled."""
ORPHANED_AFTER_S = STALE_WORKDIR_S
"""A load that never completed and began this long ago belongs to a run that died."""


@dataclass(frozen=True)
class ReadLoads:
    """A read and the loads that wrote what it returned.

    Attributes:
        started: When the read began.
        load_ids: The loads of this read; none if it wrote no row.
    """

    started: datetime
    load_ids: tuple[str, ...]

    def not_returned(self, warehouse: Warehouse) -> tuple[str, list[Any]]:
        """A condition on a row (and its parameters): no load of this read wrote it, and the
        load that did completed before this read began, or never completed and began more than
        ``ORPHANED_AFTER_S`` before it (a killed run's: no run lives that long)."""
        load_id = warehouse.column("_dlt_load_id")
        loads = warehouse.table("_dlt_loads")
        condition = (
            f"({load_id} IN (SELECT load_id FROM {loads} WHERE inserted_at < %s) "
            f"OR ({load_id} NOT IN (SELECT load_id FROM {loads}) "
            f"AND CAST({load_id} AS DOUBLE PRECISION) < %s))"
        )
        args: list[Any] = [self.started, self.started.timestamp() - ORPHANED_AFTER_S]
        if self.load_ids:
            condition += f" AND {load_id} NOT IN ({', '.join(['%s'] * len(self.load_ids))})"
            args += self.load_ids
        return condition, args


@dataclass(frozen=True)
class Reconciled:
    """What a reconciliation did, by table: rows flagged now, rows held back (too many), and
    rows flagged in all (every table of ``tables`` that exists)."""

    flagged: Mapping[str, int]
    held_back: Mapping[str, int]
    deleted: Mapping[str, int]


def reconcile_deletions(
    pipeline: dlt.Pipeline,
    tables: Sequence[str],
    complete: Collection[str],
    read: ReadLoads,
    at: datetime,
    max_share: float,
) -> Reconciled:
    """Give ``tables`` their ``_deleted_at`` column and flag, at ``at``, the rows of those read
    ``complete`` that ``read`` did not return; all in one transaction.

    A table in which that would be more than ``max_share`` of its rows not flagged yet and
    more than ``ALWAYS_FLAGGED_ROWS`` (an empty or a cut list that the API, a cache or a proxy
    called complete looks just like a mass deletion) is left as it is, its count in
    ``held_back``. Tables never created are skipped.
    """
    flagged: dict[str, int] = {}
    held_back: dict[str, int] = {}
    deleted: dict[str, int] = {}
    with pipeline.sql_client() as client:
        warehouse = Warehouse.of(pipeline, client)
        existing = warehouse.tables()
        deleted_at = warehouse.column(DELETED_AT)
        with client.begin_transaction():
            for name in (name for name in tables if name in existing):
                table = warehouse.table(name)
                if DELETED_AT not in warehouse.columns(name):  # ALTER locks out every reader
                    client.execute_sql(
                        f"ALTER TABLE {table} ADD COLUMN {deleted_at} TIMESTAMP WITH TIME ZONE"
                    )
                if name in complete:
                    _flag(warehouse, name, read, at, max_share, flagged, held_back)
                deleted[name] = int(
                    warehouse.scalar(f"SELECT COUNT(*) FROM {table} WHERE {deleted_at} IS NOT NULL")
                )
    return Reconciled(flagged, held_back, deleted)


def _flag(
    warehouse: Warehouse,
    name: str,
    read: ReadLoads,
    at: datetime,
    max_share: float,
    flagged: dict[str, int],
    held_back: dict[str, int],
) -> None:
    """Flag the rows of ``name`` that ``read`` did not return, unless there are too many."""
    table, deleted_at = warehouse.table(name), warehouse.column(DELETED_AT)
    gone, args = read.not_returned(warehouse)
    live, count = warehouse.rows(
        f"SELECT COUNT(*), COUNT(CASE WHEN {gone} THEN 1 END) FROM {table} "
        f"WHERE {deleted_at} IS NULL",
        *args,
    )[0]
    if count > max(max_share * live, ALWAYS_FLAGGED_ROWS):
        held_back[name] = int(count)
        return
    flagged[name] = int(count)
    if count:
        warehouse.client.execute_sql(
            f"UPDATE {table} SET {deleted_at} = %s WHERE {deleted_at} IS NULL AND {gone}",
            at,
            *args,
        )
