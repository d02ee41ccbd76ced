"""What the warehouse should hold, computed from the sandbox's records and schema.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from analytics_assets.sandbox import SandboxServer
from analytics_assets.schema import Column, Table

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
}


def served_value(column: Column, value: Any) -> Any:
    """A value as the API serves it, in the form ``loaded_rows`` gives the warehouse's: a
    timestamp as an aware datetime, JSON as sorted compact text."""
    if value is None:
        return None
    if column.type == "timestamp":
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if column.type == "json":
        return json.dumps(value, sort_keys=True)
    return value


def loaded_value(column: Column, value: Any) -> Any:
    """A value as a warehouse driver returns it, in ``served_value``'s form."""
    if value is None or column.type != "json":
        return value
    parsed = (
        json.loads(value) if isinstance(value, str) else value
    )  # DuckDB: text; psycopg2: parsed
    return json.dumps(parsed, sort_keys=True)


def loaded_rows(table: Table, rows: Iterable[tuple]) -> set[tuple]:
    """Rows of ``select_declared(table)`` in the form ``expected_rows`` gives."""
    return {
        tuple(loaded_value(column, value) for column, value in zip(table.columns, row, strict=True))
        for row in rows
    }


def flat_value(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a nested record; None where an object on the way is null."""
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def expected_rows(server: SandboxServer, table: Table) -> set[tuple]:
    """The rows (declared columns in declaration order) the sandbox serves for ``table``."""
    return records_as_rows(server.records(table.name), table)


def records_as_rows(records: Iterable[dict[str, Any]], table: Table) -> set[tuple]:
    """``records`` as served, as rows of ``table``'s declared columns (see ``served_value``)."""
    return {
        tuple(served_value(column, flat_value(record, column.path)) for column in table.columns)
        for record in records
    }


def select_declared(table: Table) -> str:
    """SQL selecting the declared columns of ``table`` in declaration order."""
    columns = ", ".join(column.name for column in table.columns)
    return f"SELECT {columns} FROM analytics_api.{table.name}"
