"""Deterministic fake records for the sandbox API, generated from ``analytics_assets.schema``.

Records are built by walking each Table's fields, so a field added to the schema appears in the
sandbox's data with no edit here. Realism (names, emails, coherent counters) comes from
``fakes.COLUMN_VALUES`` and ``related.COLUMN_VALUES``, small lookups by column name; any other
column gets a generic value for its type and format. Rows of a per-parent table, and rows
``related.ASSIGN`` plans, are about chosen referenced rows (a campaign lead about one campaign
and one lead); an object with a reference and ``drop_undeclared`` embeds that row whole.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from analytics_assets.sandbox import fakes, related
from analytics_assets.sandbox.activity import DEFAULT_DAYS, Activity, today_utc
from analytics_assets.schema import NESTING_SEPARATOR, TABLES, Field, Table

DEFAULT_SEED = 7
DEFAULT_COUNTS: dict[str, int] = {
    "users": 25,
    "leads": 2500,
    "campaigns": 40,
    "campaign_leads": 3000,  # at most campaigns x leads: pairs are unique
    "replies": 600,
    "events": 3000,
    "lead_statuses": 8,
    "lead_fields": 12,
    "tags": 30,
    "dnc_domains": 150,
}
DEFAULT_COUNT = 50  # for a table added to the schema without a count of its own

# A declared-nullable column that is null in every row: the real API never fills it for most
# accounts, and the tests need one such column to exercise all-null handling downstream.
ALL_NULL_COLUMN: tuple[str, str] = ("users", "salesforce_id")
NULL_RATE = 0.15  # share of rows in which a nullable field is null
_COLUMN_VALUES = {**fakes.COLUMN_VALUES, **related.COLUMN_VALUES}


@dataclass
class Dataset:
    """Generated records per table, plus each record's server-side ``updated_at``.

    ``updated_at[table][i]`` belongs to ``records[table][i]``; it is not part of the served record.
    """

    records: dict[str, list[dict[str, Any]]]
    updated_at: dict[str, list[datetime]]


def record_id(table: str, seed: int, index: int) -> str:
    """A stable, hashed-looking id such as ``l_3f9a0c12d4e5``."""
    digest = hashlib.sha1(f"{seed}:{table}:{index}".encode()).hexdigest()[:12]
    return f"{table[0]}_{digest}"


def generate(
    counts: Mapping[str, int] | None = None,
    seed: int = DEFAULT_SEED,
    tables: tuple[Table, ...] = TABLES,
    activity_end: date | None = None,
    activity_days: int = DEFAULT_DAYS,
) -> Dataset:
    """Generate every table's records deterministically from ``seed`` (and ``activity_end``).

    Args:
        counts: Rows per table name; missing tables use ``DEFAULT_COUNTS`` / ``DEFAULT_COUNT``.
            A planned table (``related.ASSIGN``) may get fewer, e.g. when pairs run out.
        seed: The seed; equal seeds give equal data.
        tables: The tables to generate, in any order (referenced tables are generated first).
        activity_end: The day after the last day of activity (``activity``); default today, UTC.
        activity_days: How many days of activity end there.
    """
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    end = activity_end or today_utc()
    dataset = Dataset(records={}, updated_at={})
    for table in _dependency_order(tables):
        # One RNG per table so that, e.g., changing the lead count leaves users unchanged.
        rng = random.Random(f"{seed}:{table.name}")
        plan = _plan(table, table.fields, (), carried=False)
        timestamps = tuple(c.name for c in table.columns if c.format == "date-time")
        wanted = counts.get(table.name, DEFAULT_COUNT)
        assign = related.ASSIGN.get(table.name) or (
            related.by_parent(table.parent.table) if table.parent else None
        )
        chosen = assign(rng, dataset.records, wanted) if assign else None
        count = wanted if chosen is None else len(chosen)
        activity = Activity(end, activity_days, count)
        # Registered before filling, so a self-reference picks one of the rows made so far.
        records = dataset.records[table.name] = []
        updated_at = dataset.updated_at[table.name] = []
        for i in range(count):
            key = record_id(table.name, seed, i)
            if chosen is None:
                row = _Row(rng, dataset.records, key, i, activity)
            else:
                row = _AssignedRow(rng, dataset.records, key, i, activity, chosen[i])
            records.append(row.build(plan, embed=None))
            updated_at.append(row.updated_at(timestamps))
    return dataset


def _dependency_order(tables: tuple[Table, ...]) -> list[Table]:
    by_name = {table.name: table for table in tables}
    ordered: list[Table] = []

    def visit(table: Table, seen: tuple[str, ...]) -> None:
        if table in ordered:
            return
        if table.name in seen:
            raise ValueError(f"circular references between tables: {seen}")
        targets = [c.references.split(".")[0] for c in table.columns if c.references]
        targets += related.DEPENDS_ON.get(table.name, ())
        for target in targets:
            if target != table.name and target in by_name:
                visit(by_name[target], (*seen, table.name))
        ordered.append(table)

    for table in tables:
        visit(table, ())
    return ordered


@dataclass(frozen=True)
class _Node:
    """One field of a table, compiled once so that building a row is a plain walk."""

    key: str  # the field's name inside its parent object
    column: str  # the flattened column name (for an object, the prefix of its members)
    null_rate: float
    make: Callable[[_Row], Any] | None = None  # a leaf's value maker
    members: tuple[_Node, ...] | None = None  # an object's fields
    embeds: str | None = None  # an object holding a reference embeds a row of this table
    whole: bool = False  # ... the row itself, every member (drop_undeclared), not a copy
    copy_from: str = ""  # inside an embed: the referenced row's key this leaf copies


def _plan(
    table: Table, fields: tuple[Field, ...], path: tuple[str, ...], carried: bool
) -> tuple[_Node, ...]:
    """Compile ``fields``; ``carried``: the enclosing object is nullable and carries the nulls.

    A nullable object is null as a whole rather than member by member, which keeps e.g. the
    campaign stats counters consistent with each other.
    """
    nodes = []
    for field in fields:
        sub = (*path, field.name)
        column = NESTING_SEPARATOR.join(sub)
        rate = _null_rate(table, column) if field.nullable and not carried else 0.0
        if field.type == "object":
            ref = next((f.references for f in field.fields if f.references), None)
            members = _plan(table, field.fields, sub, carried=field.nullable)
            nodes.append(
                _Node(
                    field.name,
                    column,
                    rate,
                    members=members,
                    embeds=ref.split(".")[0] if ref else None,
                    whole=bool(ref) and field.drop_undeclared,
                )
            )
        else:
            copy_from = field.references.split(".")[1] if field.references else field.name
            nodes.append(
                _Node(
                    field.name, column, rate, make=_maker(table, field, column), copy_from=copy_from
                )
            )
    return tuple(nodes)


def _null_rate(table: Table, column: str) -> float:
    if (table.name, column) == ALL_NULL_COLUMN:
        return 1.0
    # The link to the parent is never null: the parent's endpoint serves the row.
    return 0.0 if table.parent and column == table.parent.param else NULL_RATE


def _maker(table: Table, field: Field, column: str) -> Callable[[_Row], Any]:
    if column == table.primary_key:
        return lambda row: row.key
    special = _COLUMN_VALUES.get(f"{table.name}.{column}") or _COLUMN_VALUES.get(column)
    if special is not None:
        return special
    if field.references:
        target, key = field.references.split(".")
        return lambda row: (row.pick(target) or {}).get(key)
    return lambda row: fakes.generic(row, field)


class _Row:
    """Builds one record; ``values`` holds the leaf values generated so far, by column name."""

    def __init__(
        self,
        rng: random.Random,
        done: dict[str, list[dict[str, Any]]],
        key: str,
        index: int,
        activity: Activity,
    ):
        self.rng = rng
        self.done = done  # the tables generated so far, for references
        self.key = key
        self.index = index
        self.activity = activity
        self.values: dict[str, Any] = {}

    def build(self, nodes: tuple[_Node, ...], embed: dict[str, Any] | None) -> dict[str, Any]:
        """Build one object from its compiled fields.

        An object holding a reference (campaigns.creator) embeds the referenced row: its members
        copy that row's values, so creator.name and creator.email match the user creator.id.
        """
        record: dict[str, Any] = {}
        for node in nodes:
            if node.null_rate and self.rng.random() < node.null_rate:
                value = None
            elif node.members is not None:
                inner = self.pick(node.embeds) if node.embeds else None
                value = inner if node.whole else self.build(node.members, inner)
            elif embed is not None:
                value = embed.get(node.copy_from)
            else:
                value = node.make(self)  # type: ignore[misc]  # a leaf always has a maker
            if node.members is None:
                self.values[node.column] = value
            record[node.key] = value
        return record

    def pick(self, table: str) -> dict[str, Any] | None:
        """A random row of an already generated table, or None if it has no rows."""
        rows = self.done.get(table)
        return self.rng.choice(rows) if rows else None

    def updated_at(self, timestamps: tuple[str, ...]) -> datetime:
        """The server-side update time: never before the last activity the record shows."""
        shown = [self.values.get(column) for column in timestamps]
        floor = max((datetime.fromisoformat(v) for v in shown if v), default=fakes.GENERATED_FROM)
        return fakes.moment(self.rng, floor)

    @cached_property
    def person(self) -> dict[str, str]:
        """The record's coherent identity, drawn on first use."""
        return fakes.person(self.rng)


class _AssignedRow(_Row):
    """A row about chosen referenced rows: its references to their tables resolve to them."""

    def __init__(
        self,
        rng: random.Random,
        done: dict[str, list[dict[str, Any]]],
        key: str,
        index: int,
        activity: Activity,
        chosen: related.Chosen,
    ):
        super().__init__(rng, done, key, index, activity)
        self.chosen = chosen

    def pick(self, table: str) -> dict[str, Any] | None:
        """The chosen row of ``table``, else a random one."""
        row = self.chosen.get(table)
        return row if row is not None else super().pick(table)
