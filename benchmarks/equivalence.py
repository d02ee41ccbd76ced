"""Do two warehouses hold the same rows? A digest of every declared column, per table."""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics_assets.schema import API_NAME, SEED_TABLES, Table


def table_digest(con: duckdb.DuckDBPyConnection, table: Table) -> tuple[int, int]:
    """(rows, order-independent sum of row hashes over the declared columns)."""
    columns = ", ".join(f'"{column.name}"' for column in table.columns)
    row = con.execute(
        f"SELECT COUNT(*), COALESCE(SUM(hash({columns})::HUGEINT), 0) "
        f'FROM "{API_NAME}"."{table.name}"'
    ).fetchone()
    return int(row[0]), int(row[1])


def same_rows(left: Path, right: Path) -> dict[str, bool]:
    """Table name -> whether both DuckDB files hold the same declared rows, per seed table."""
    result: dict[str, bool] = {}
    with (
        duckdb.connect(str(left), read_only=True) as a,
        duckdb.connect(str(right), read_only=True) as b,
    ):
        for table in SEED_TABLES:  # what the seed default loads
            result[table.name] = table_digest(a, table) == table_digest(b, table)
    return result
