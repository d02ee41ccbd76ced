"""The records the sandbox serves, by resource and, for per-parent endpoints, by parent.

Wraps a generated ``Dataset`` and keeps it coherent under changes:

* Rows of a per-parent table (``schema.Parent``) link to their parent by the column named like
  the path parameter (``campaign_id``); ``rows(resource, parent)`` is one parent's sequence.
* An object with a reference and ``drop_undeclared`` (``campaign_leads.lead``) embeds the
  referenced row itself, so a change to that row shows in both places.
* ``delete`` cascades: a parent's children go with it, and so do the rows embedding a deleted
  row (an enrollment of a deleted lead). Other references (a reply's ``lead_id``, an event's
  data) are history and stay.

Not thread-safe on its own: the server calls it under its lock. Changes replace rows and lists
rather than mutating records, so pages being rendered keep the rows they were built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics_assets.sandbox.data import Dataset
from analytics_assets.schema import TABLES, Table


@dataclass(frozen=True)
class _Embed:
    """``table.field`` embeds a whole row of ``target`` whose ``target_key`` is ``key``."""

    table: str
    field: str
    key: str
    target: str
    target_key: str


def _embeds(tables: tuple[Table, ...]) -> tuple[_Embed, ...]:
    found = []
    for table in tables:
        for field in table.fields:
            if field.type != "object" or not field.drop_undeclared:
                continue
            for member in field.fields:
                if member.references:
                    target, target_key = member.references.split(".")
                    found.append(_Embed(table.name, field.name, member.name, target, target_key))
    return tuple(found)


class Store:
    """The served records; see the module docstring.

    Args:
        dataset: The generated records (after defects); the store takes it over.
        tables: The served tables.
    """

    def __init__(self, dataset: Dataset, tables: tuple[Table, ...] = TABLES) -> None:
        self.dataset = dataset
        self.tables = {table.name: table for table in tables}
        self._embeds = _embeds(tables)
        self._by_parent: dict[str, dict[str, list[int]]] = {}  # resource -> parent -> indexes
        self._ids: dict[str, frozenset[str]] = {}

    def rows(self, resource: str, parent: str | None = None) -> list[dict[str, Any]]:
        """The rows of ``resource``, or of one ``parent``'s sequence (KeyError if unknown)."""
        rows = self._all(resource)
        if parent is None:
            return rows
        return [rows[i] for i in self._indexes(resource, parent)]

    def updated_at(self, resource: str, parent: str | None = None) -> list[datetime]:
        """Server-side update times, aligned with ``rows(resource, parent)``."""
        self._all(resource)
        stamps = self.dataset.updated_at[resource]
        if parent is None:
            return stamps
        return [stamps[i] for i in self._indexes(resource, parent)]

    def has_parent(self, resource: str, parent: str) -> bool:
        """Whether ``parent`` is a served record of ``resource``'s parent table."""
        table = self.tables[resource]
        if table.parent is None:
            return False
        key = table.parent.table
        if key not in self._ids:
            field = table.parent.field
            self._ids[key] = frozenset(str(row.get(field)) for row in self._all(key))
        return parent in self._ids[key]

    def parents(self, resource: str) -> list[str]:
        """Ids of the parents ``resource`` is served for, in the parent table's order."""
        table = self.tables[resource]
        if table.parent is None:
            return []
        field = table.parent.field
        return [str(row.get(field)) for row in self._all(table.parent.table)]

    def replace(self, resource: str, changes: dict[int, dict[str, Any]]) -> set[str]:
        """Put new rows at the given indexes of ``resource``; returns the changed resources.

        Rows embedding a replaced row (by its key) are replaced by copies embedding the new one.
        """
        rows = self._all(resource)
        for index, row in changes.items():
            rows[index] = row
        changed = {resource}
        for embed in (e for e in self._embeds if e.target == resource):
            new = {row.get(embed.target_key): row for row in changes.values()}
            holders = self._all(embed.table)
            for i, holder in enumerate(holders):
                inner = holder.get(embed.field)
                if isinstance(inner, dict) and inner.get(embed.key) in new:
                    holders[i] = {**holder, embed.field: new[inner.get(embed.key)]}
                    changed.add(embed.table)
        self._forget()
        return changed

    def delete(self, resource: str, record_id: str) -> set[str]:
        """Delete the record(s) with id ``record_id`` and cascade; returns the changed resources.

        Raises:
            KeyError: ``resource`` has no record ``record_id``.
        """
        key = self.tables[resource].primary_key
        gone = [row for row in self._all(resource) if row.get(key) == record_id]
        if not gone:
            raise KeyError(f"{resource} has no record {record_id!r}")
        self._keep(resource, lambda row: row.get(key) != record_id)
        changed = {resource}
        for table in self.tables.values():
            if table.parent is not None and table.parent.table == resource:
                links = {str(row.get(table.parent.field)) for row in gone}
                param = table.parent.param
                if self._keep(table.name, lambda row, p=param, ls=links: str(row.get(p)) not in ls):
                    changed.add(table.name)
        for embed in (e for e in self._embeds if e.target == resource):
            keys = {row.get(embed.target_key) for row in gone}
            if self._keep(
                embed.table, lambda row, e=embed, ks=keys: _embedded_key(row, e) not in ks
            ):
                changed.add(embed.table)
        self._forget()
        return changed

    def _keep(self, resource: str, keep: Callable[[dict[str, Any]], bool]) -> bool:
        """Keep the rows of ``resource`` that ``keep`` accepts; True if any went."""
        rows, stamps = self._all(resource), self.dataset.updated_at[resource]
        kept = [i for i, row in enumerate(rows) if keep(row)]
        if len(kept) == len(rows):
            return False
        self.dataset.records[resource] = [rows[i] for i in kept]
        self.dataset.updated_at[resource] = [stamps[i] for i in kept]
        return True

    def _all(self, resource: str) -> list[dict[str, Any]]:
        try:
            return self.dataset.records[resource]
        except KeyError:
            raise KeyError(f"no resource {resource!r}; have {tuple(self.tables)}") from None

    def _indexes(self, resource: str, parent: str) -> list[int]:
        table = self.tables[resource]
        if table.parent is None:
            raise KeyError(f"{resource} is not served per parent")
        if resource not in self._by_parent:
            by_parent: dict[str, list[int]] = {}
            for i, row in enumerate(self._all(resource)):
                by_parent.setdefault(str(row.get(table.parent.param)), []).append(i)
            self._by_parent[resource] = by_parent
        if not self.has_parent(resource, parent):
            raise KeyError(f"no {table.parent.table} record {parent!r}")
        return self._by_parent[resource].get(parent, [])

    def _forget(self) -> None:
        self._by_parent.clear()
        self._ids.clear()


def _embedded_key(row: dict[str, Any], embed: _Embed) -> Any:
    inner = row.get(embed.field)
    return inner.get(embed.key) if isinstance(inner, dict) else None
