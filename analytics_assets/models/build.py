"""Building a model in the warehouse: its SELECT over the raw tables, in one transaction.

The SELECT reads the raw tables by bare name; ``source_ctes`` binds each name to the raw
table's live rows (those not flagged ``_deleted_at``) and, for a range of days, to the rows of
those days only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from analytics_assets.api.window import DayRange
from analytics_assets.models.model import PREVIEW_ROWS, SCHEMA, Model
from analytics_assets.schema import API_NAME, DELETED_AT, Table
from analytics_assets.warehouse.sql import Warehouse

PreviewValue = str | int | float | bool | None


class RawTablesMissing(Exception):
    """Raw tables a model reads were never loaded."""


def _timestamp(moment: datetime) -> str:
    return f"CAST('{moment.isoformat()}' AS TIMESTAMP WITH TIME ZONE)"


def _source(warehouse: Warehouse, table: Table, days: DayRange | None) -> str:
    conditions = []
    if DELETED_AT in warehouse.columns(table.name):
        conditions.append(f"{warehouse.column(DELETED_AT)} IS NULL")
    if days is not None and table.window is not None:
        column = warehouse.column(table.window.column)
        conditions.append(f"{column} >= {_timestamp(days.start)}")
        conditions.append(f"{column} < {_timestamp(days.end)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM {warehouse.table(table.name)}{where}"


def source_ctes(
    warehouse: Warehouse, model: Model, loaded_empty: set[str], days: DayRange | None = None
) -> str:
    """``WITH users AS (...), ...``: the raw tables the model's SELECT reads by bare name.

    A raw table that dlt has not created because its last load had no rows (an account with
    no campaigns yet), or a daily table no day of which was read yet, is stood in for by an
    empty relation with the declared columns, so the model is built, empty, instead of failing.

    Raises:
        RawTablesMissing: a raw table read in full is missing and was never loaded either.
    """
    existing = warehouse.tables()
    missing = [
        table
        for table in model.reads
        if table.name not in existing and table.name not in loaded_empty and table.window is None
    ]
    if missing:
        raise RawTablesMissing(", ".join(f"{API_NAME}/{table.name}" for table in missing))
    parts = []
    for table in model.reads:
        if table.name in existing:
            body = _source(warehouse, table, days)
        else:
            columns = ", ".join(
                f"CAST(NULL AS {warehouse.sql_type(c.type)}) AS {warehouse.column(c.name)}"
                for c in table.columns
            )
            body = f"SELECT {columns} WHERE 1 = 0"
        parts.append(f"{table.name} AS ({body})")
    return "WITH " + ",\n".join(parts)


def _day_condition(warehouse: Warehouse, model: Model, days: DayRange) -> str:
    column = warehouse.column(model.day_column or "")
    return (
        f"{column} >= CAST('{days.start.date()}' AS DATE) "
        f"AND {column} < CAST('{days.end.date()}' AS DATE)"
    )


def build_model(warehouse: Warehouse, model: Model, loaded_empty: set[str]) -> int:
    """(Re)build the model's table in one transaction; returns its row count.

    DROP + CREATE TABLE AS rather than CREATE OR REPLACE, which PostgreSQL lacks for tables;
    one transaction, so a build that fails leaves the previous table in place.
    """
    client = warehouse.client
    table = warehouse.other_schema_path(SCHEMA, model.name)
    select = f"{source_ctes(warehouse, model, loaded_empty)}\n{model.select_sql()}"
    client.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {warehouse.other_schema_path(SCHEMA)}")
    with client.begin_transaction():
        client.execute_sql(f"DROP TABLE IF EXISTS {table}")
        client.execute_sql(f"CREATE TABLE {table} AS\n{select}")
        return int(warehouse.scalar(f"SELECT COUNT(*) FROM {table}"))


def build_days(warehouse: Warehouse, model: Model, loaded_empty: set[str], days: DayRange) -> int:
    """Rebuild the rows of ``days`` of a model partitioned by day, in one transaction: the
    rows of other days stay as they are. Returns the rows of ``days``."""
    client = warehouse.client
    table = warehouse.other_schema_path(SCHEMA, model.name)
    select = f"{source_ctes(warehouse, model, loaded_empty, days)}\n{model.select_sql()}"
    in_days = _day_condition(warehouse, model, days)
    client.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {warehouse.other_schema_path(SCHEMA)}")
    with client.begin_transaction():
        client.execute_sql(
            f"CREATE TABLE IF NOT EXISTS {table} AS\nSELECT * FROM (\n{select}\n) AS model "
            "WHERE 1 = 0"
        )
        client.execute_sql(f"DELETE FROM {table} WHERE {in_days}")
        client.execute_sql(f"INSERT INTO {table}\nSELECT * FROM (\n{select}\n) AS model")
        return int(warehouse.scalar(f"SELECT COUNT(*) FROM {table} WHERE {in_days}"))


def _preview_value(value: Any) -> PreviewValue:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def preview(
    warehouse: Warehouse, model: Model, days: DayRange | None = None
) -> list[dict[str, PreviewValue]]:
    """The model's top rows by its ``preview_order`` (of ``days`` only, when given)."""
    table = warehouse.other_schema_path(SCHEMA, model.name)
    where = f" WHERE {_day_condition(warehouse, model, days)}" if days else ""
    rows = warehouse.rows(
        f"SELECT * FROM {table}{where} ORDER BY {model.preview_order} LIMIT {PREVIEW_ROWS}"
    )
    names = [column.name for column in model.columns]
    return [
        {name: _preview_value(value) for name, value in zip(names, row, strict=True)}
        for row in rows
    ]
