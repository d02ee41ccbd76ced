"""What the warehouse should hold, computed from the sandbox's records and schema.py."""

from __future__ import annotations

from typing import Any

from analytics_assets.sandbox import SandboxServer
from analytics_assets.schema import Table

DUCKDB_TYPES = {"string": "VARCHAR", "boolean": "BOOLEAN", "integer": "BIGINT"}


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
    return {
        tuple(flat_value(record, column.path) for column in table.columns)
        for record in server.records(table.name)
    }


def select_declared(table: Table) -> str:
    """SQL selecting the declared columns of ``table`` in declaration order."""
    columns = ", ".join(column.name for column in table.columns)
    return f"SELECT {columns} FROM analytics_api.{table.name}"
