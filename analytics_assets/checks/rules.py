"""The check kinds: each one a set-based SQL rule over a raw table, derived from schema.py.

A rule reports the offending row count, up to ``SAMPLE_SIZE`` sample ids and details; no row is
ever looped over in Python. ERROR rules block the models downstream; WARN rules inform.

Rules about "the last load" (``primary_key`` on the staging copy, ``rejected_records``) look only
at the rows of the loads of the table's latest sync (``Scope.load_ids``): dlt's staging dataset
keeps a table's rows from its last non-empty load, so a later sync that loaded none of that
table must not be judged by them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from analytics_assets.api.records import REJECTED_TABLE
from analytics_assets.schema import DELETED_AT, TABLES_BY_NAME, Column, Table
from analytics_assets.warehouse.sql import Warehouse

SAMPLE_SIZE = 10
ADDED_COLUMNS = frozenset({"_dlt_id", "_dlt_load_id", DELETED_AT})  # not from the API
VARIANT_MARKER = "__v_"  # dlt stores values it cannot coerce in `<column>__v_<type>` columns
EMAIL_PATTERN = "_%@_%._%"  # portable LIKE: something@something.something

Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class Finding:
    """What a rule found in one table."""

    offending_rows: int
    sample_ids: list[str]
    details: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # set when the table cannot be checked at all

    @property
    def passed(self) -> bool:
        return self.offending_rows == 0 and self.problem is None


NOT_LOADED = Finding(0, [], {"note": "no table yet: dlt creates it with the first row loaded"})
"""A table that does not exist holds no rows, so no row can offend (e.g. an account with no
campaigns yet): the check passes and says so."""


@dataclass(frozen=True)
class Scope:
    """What a rule checks: a table in the warehouse, and the dlt loads of its latest sync."""

    warehouse: Warehouse
    table: Table
    load_ids: tuple[str, ...] = ()
    run_id: str | None = None  # the Dagster run of the latest sync; None if not known

    def in_loads(self) -> tuple[str, list[str]]:
        """A ``_dlt_load_id IN (...)`` condition over ``load_ids`` and its parameters."""
        if not self.load_ids:
            return "1 = 0", []
        marks = ", ".join(["%s"] * len(self.load_ids))
        return f"{self.warehouse.column('_dlt_load_id')} IN ({marks})", list(self.load_ids)


@dataclass(frozen=True)
class Rule:
    """One kind of check, applied to every table it ``applies_to``."""

    name: str
    description: str
    severity: Severity
    applies_to: Callable[[Table], bool]
    check: Callable[[Scope], Finding]

    def evaluate(
        self,
        warehouse: Warehouse,
        table: Table,
        load_ids: tuple[str, ...] = (),
        run_id: str | None = None,
    ) -> Finding:
        """The finding of this rule on ``table``, the latest sync being ``load_ids``/``run_id``."""
        return self.check(Scope(warehouse, table, load_ids, run_id))


def _on_table(evaluate: Callable[[Warehouse, Table], Finding]) -> Callable[[Scope], Finding]:
    """A rule that needs only the table, not the loads."""
    return lambda scope: evaluate(scope.warehouse, scope.table)


def _offenders(warehouse: Warehouse, table: Table, condition: str) -> tuple[int, list[str]]:
    qualified = warehouse.table(table.name)
    key = warehouse.column(table.primary_key)
    count = warehouse.scalar(f"SELECT COUNT(*) FROM {qualified} WHERE {condition}")
    samples = warehouse.rows(
        f"SELECT {key} FROM {qualified} WHERE {condition} ORDER BY {key} LIMIT {SAMPLE_SIZE}"
    )
    return int(count or 0), [str(row[0]) for row in samples]


def _any(warehouse: Warehouse, columns: list[str], predicate: str) -> str:
    return " OR ".join(predicate.format(warehouse.column(name)) for name in columns) or "1 = 0"


def _per_column(
    warehouse: Warehouse, table: Table, columns: list[str], predicate: str
) -> dict[str, int]:
    if not columns:
        return {}
    sums = ", ".join(
        f"SUM(CASE WHEN {predicate.format(warehouse.column(name))} THEN 1 ELSE 0 END)"
        for name in columns
    )
    row = warehouse.rows(f"SELECT {sums} FROM {warehouse.table(table.name)}")[0]
    return {name: int(value or 0) for name, value in zip(columns, row, strict=True) if value}


def _rule_over_columns(
    columns_of: Callable[[Table], list[Column]], predicate: str
) -> Callable[[Warehouse, Table], Finding]:
    """A rule flagging rows where ``predicate`` ("{}" is the column) holds for any column."""

    def evaluate(warehouse: Warehouse, table: Table) -> Finding:
        present = warehouse.columns(table.name)
        if not present:
            return NOT_LOADED
        names = [column.name for column in columns_of(table) if column.name in present]
        count, samples = _offenders(warehouse, table, _any(warehouse, names, predicate))
        by_column = _per_column(warehouse, table, names, predicate)
        return Finding(count, samples, {"offending_rows_by_column": by_column})

    return evaluate


def _required(table: Table) -> list[Column]:
    return [column for column in table.columns if not column.nullable]


def _emails(table: Table) -> list[Column]:
    return [column for column in table.columns if column.format == "email"]


def _counts(table: Table) -> list[Column]:
    return [column for column in table.columns if column.type == "integer"]


def _column_types(warehouse: Warehouse, table: Table) -> Finding:
    present = warehouse.columns(table.name)
    if not present:
        return NOT_LOADED
    declared = {column.name: warehouse.sql_type(column.type) for column in table.columns}
    missing = sorted(name for name in declared if name not in present)
    wrong = {
        name: present[name]
        for name, expected in declared.items()
        if warehouse.knows_types and name in present and present[name] != expected
    }
    variants = sorted(name for name in present if VARIANT_MARKER in name)
    count, samples = _offenders(warehouse, table, _any(warehouse, variants, "{} IS NOT NULL"))
    details: dict[str, Any] = {
        "missing_columns": missing,
        "wrong_types": wrong,
        "variant_columns": variants,
        "expected_types": declared if warehouse.knows_types else "not checked here",
    }
    problem = None
    if missing or wrong:
        problem = f"missing columns {missing}, wrong types {wrong}"
    return Finding(count, samples, details, problem)


def _duplicates(
    warehouse: Warehouse, qualified: str, key: str, where: str = "1 = 1", args: list[str] = ()
) -> tuple[int, list[str]]:
    duplicated = f"SELECT {key} FROM {qualified} WHERE {where} GROUP BY {key} HAVING COUNT(*) > 1"
    count = warehouse.scalar(f"SELECT COUNT(*) FROM ({duplicated}) AS d", *args)
    samples = warehouse.rows(f"{duplicated} ORDER BY {key} LIMIT {SAMPLE_SIZE}", *args)
    return int(count or 0), [str(row[0]) for row in samples]


def _primary_key(scope: Scope) -> Finding:
    """Unique and not null in the table, and unique in its latest sync's load.

    The sync keeps one row per id (warehouse/repeats.py), so a duplicate the API served (the
    same id on two pages, which can hide a skipped record) is only visible in the staging copy
    of the load.
    """
    warehouse, table = scope.warehouse, scope.table
    if not warehouse.columns(table.name):
        return NOT_LOADED
    key = warehouse.column(table.primary_key)
    null_ids = int(
        warehouse.scalar(f"SELECT COUNT(*) FROM {warehouse.table(table.name)} WHERE {key} IS NULL")
        or 0
    )
    in_table, table_samples = _duplicates(warehouse, warehouse.table(table.name), key)
    in_load, load_samples = 0, []
    if table.name in warehouse.tables(staging=True) and scope.load_ids:
        where, args = scope.in_loads()
        staging = warehouse.table(table.name, True)
        in_load, load_samples = _duplicates(warehouse, staging, key, where, args)
    samples = sorted(set(table_samples) | set(load_samples))[:SAMPLE_SIZE]
    details = {
        "null_ids": null_ids,
        "duplicate_ids_in_table": in_table,
        "duplicate_ids_in_last_load": in_load,
    }
    return Finding(null_ids + in_table + in_load, samples, details)


def _schema_drift(warehouse: Warehouse, table: Table) -> Finding:
    present = warehouse.columns(table.name)
    if not present:
        return NOT_LOADED
    declared = {column.name for column in table.columns}
    undeclared = sorted(
        name
        for name in present
        if name not in declared and name not in ADDED_COLUMNS and VARIANT_MARKER not in name
    )
    child_tables = sorted(name for name in warehouse.tables() if name.startswith(f"{table.name}__"))
    count, samples = _offenders(warehouse, table, _any(warehouse, undeclared, "{} IS NOT NULL"))
    details = {"undeclared_columns": undeclared, "undeclared_child_tables": child_tables}
    problem = f"undeclared child tables {child_tables}" if child_tables else None
    return Finding(count, samples, details, problem)


def _references(warehouse: Warehouse, table: Table) -> Finding:
    present = warehouse.columns(table.name)
    if not present:
        return NOT_LOADED
    conditions = []
    loaded = warehouse.tables()
    not_loaded: set[str] = set()
    for column in table.columns:
        if column.references and column.name in present:
            target_table, target_column = column.references.split(".")
            name, target_key = warehouse.column(column.name), warehouse.column(target_column)
            if target_table not in loaded:  # holds no rows yet: every id points at nothing
                not_loaded.add(target_table)
                conditions.append((column.name, f"({name} IS NOT NULL)"))
                continue
            target = warehouse.table(TABLES_BY_NAME[target_table].name)
            conditions.append(
                (
                    column.name,
                    f"({name} IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {target} AS r WHERE r.{target_key} = {name}))",
                )
            )
    where = " OR ".join(condition for _, condition in conditions) or "1 = 0"
    count, samples = _offenders(warehouse, table, where)
    by_column = {name: _offenders(warehouse, table, condition)[0] for name, condition in conditions}
    details: dict[str, Any] = {"offending_rows_by_column": by_column}
    if not_loaded:
        details["tables_not_loaded_yet"] = sorted(not_loaded)
    return Finding(count, samples, details)


def _rejected_records(scope: Scope) -> Finding:
    """Records of the latest sync set aside as unloadable (api/records.py), by id or position."""
    warehouse, table = scope.warehouse, scope.table
    if REJECTED_TABLE not in warehouse.tables():
        return Finding(0, [], {"note": "no record was ever set aside"})
    rejected = warehouse.table(REJECTED_TABLE)
    # A per-parent table counts its parents set aside in the same run: their children were
    # never asked for (a campaign set aside leaves its replies unread).
    resources = [table.name, *([table.parent.table] if table.parent else [])]
    marks = ", ".join(["%s"] * len(resources))
    if scope.run_id is None:
        # No materialization known here: a sync's rejects load right after its own load, so
        # they are the latest sync's if theirs is the newest load of all.
        loads = warehouse.table("_dlt_loads")
        newest = f"(SELECT MAX(load_id) FROM {loads} WHERE status = 0)"
        where, args = f"resource IN ({marks}) AND _dlt_load_id = {newest}", resources
    else:
        where, args = f"resource IN ({marks}) AND run_id = %s", [*resources, scope.run_id]
    count = warehouse.scalar(f"SELECT COUNT(*) FROM {rejected} WHERE {where}", *args)
    rows = warehouse.rows(
        "SELECT COALESCE(record_id, 'page ' || CAST(page AS VARCHAR) || ' position ' || "
        f"CAST(position AS VARCHAR)), reason, page_url FROM {rejected} WHERE {where} "
        f"ORDER BY page, position LIMIT {SAMPLE_SIZE}",
        *args,
    )
    details = {
        "reasons": [f"{name}: {reason}" for name, reason, _ in rows],
        "page_urls": sorted({url for _, _, url in rows}),
        "query": f"SELECT * FROM {rejected} WHERE resource IN "
        f"({', '.join(repr(name) for name in resources)}) AND run_id = ...",
    }
    return Finding(int(count or 0), [str(row[0]) for row in rows], details)


RULES: tuple[Rule, ...] = (
    Rule(
        "not_null",
        "Every field the seed declares non-nullable has no nulls.",
        "ERROR",
        lambda table: bool(_required(table)),
        _on_table(_rule_over_columns(_required, "{} IS NULL")),
    ),
    Rule(
        "column_types",
        "Every declared column exists with its declared type; no dlt variant columns.",
        "ERROR",
        lambda table: True,
        _on_table(_column_types),
    ),
    Rule(
        "primary_key",
        "id is unique and not null, also within the latest sync's load.",
        "ERROR",
        lambda table: True,
        _primary_key,
    ),
    Rule(
        "email_format",
        "Email columns look like an email address.",
        "ERROR",
        lambda table: bool(_emails(table)),
        _on_table(
            _rule_over_columns(
                _emails,
                f"({{0}} IS NOT NULL AND NOT ({{0}} LIKE '{EMAIL_PATTERN}' "
                "AND {0} NOT LIKE '% %' AND {0} NOT LIKE '%@%@%'))",
            )
        ),
    ),
    Rule(
        "schema_drift",
        "Columns or child tables the schema does not declare.",
        "WARN",
        lambda table: True,
        _on_table(_schema_drift),
    ),
    Rule(
        "references",
        "Ids that point at another table (users, leads, campaigns) exist there.",
        "WARN",
        lambda table: any(column.references for column in table.columns),
        _on_table(_references),
    ),
    Rule(
        "non_negative_counts",
        "Counters are not negative.",
        "WARN",
        lambda table: bool(_counts(table)),
        _on_table(_rule_over_columns(_counts, "{} < 0")),
    ),
    Rule(
        "rejected_records",
        "No record of the latest sync was set aside as unloadable (see rejected_records).",
        "ERROR",
        lambda table: True,
        _rejected_records,
    ),
)
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
