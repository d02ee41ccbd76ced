"""Records that cannot be loaded as declared are set aside, not fatal.

One record the warehouse cannot take (no id, not an object, an integer beyond 64 bits) would
abort a whole load, and one of the wrong shape (an object where a string is declared, a null
where an object is required) would load as NULLs. ``shape_problem`` judges a record against
schema.py; ``rejected_row`` turns one that fails into a row of the ``rejected_records`` table:
resource, page URL, page and position, id (when it has one), reason and the raw JSON, with the
API key masked. ``RejectedRecords`` collects them during a run; the ingest step loads them right
after the sync's own load, tagged with the Dagster run id.

Why not in the same dlt load: a dlt resource can send items to another table, but that table
inherits the resource's hints (primary key ``id``, its columns, merge), and dagster-dlt maps
every resource of a source to an asset, so a resource of its own would need an asset too.

Values of a declared scalar type that dlt can coerce (``"5"`` for an integer, ``"true"`` for a
boolean) are not shape problems; ones it cannot (``"many"`` for an integer) load into a dlt
variant column and fail the ``column_types`` check, naming the ids.
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime
from typing import Any

import orjson
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TColumnSchema

from analytics_assets.api.redact import Redactor
from analytics_assets.schema import NESTING_SEPARATOR, Field, Table, children_of

REJECTED_TABLE = "rejected_records"
SET_ASIDE_NOTE = f"were set aside in {REJECTED_TABLE}"
"""How a read's own set-aside records end its incompleteness reason (re-reading won't help)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_RAW_JSON = 20_000  # characters of a rejected record kept (a record may be huge)
REJECTED_COLUMNS: dict[str, TColumnSchema] = {
    "run_id": {"data_type": "text", "nullable": False, "description": "The Dagster run."},
    "resource": {"data_type": "text", "nullable": False, "description": "The API resource."},
    "page_url": {"data_type": "text", "nullable": False, "description": "The page's URL."},
    "page": {"data_type": "bigint", "nullable": False, "description": "1-based page of the read."},
    "position": {
        "data_type": "bigint",
        "nullable": False,
        "description": "0-based position of the record on its page.",
    },
    "record_id": {"data_type": "text", "nullable": True, "description": "Its id, if it has one."},
    "reason": {"data_type": "text", "nullable": False, "description": "Why it was set aside."},
    "raw_json": {
        "data_type": "text",
        "nullable": False,
        "description": f"The record as served (its first {MAX_RAW_JSON:,} characters).",
    },
    "rejected_at": {"data_type": "timestamp", "nullable": False, "description": "When."},
}

_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
_NAMING = NamingConvention()  # dlt's default: how dlt will name a key's column


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def shape_problem(record: Any, table: Table) -> str | None:
    """Why ``record`` cannot load as ``table`` declares it, or None if it can."""
    if not isinstance(record, dict):
        return f"the item is {_json_type(record)}, not an object"
    key = record.get(table.primary_key)
    if key is None:
        state = "null" if table.primary_key in record else "missing"
        return f"{table.primary_key} is {state}"
    if isinstance(key, dict | list | bool):
        return f"{table.primary_key} is {_json_type(key)}, not a string"
    if isinstance(key, str) and not key.strip():
        return f"{table.primary_key} is empty"
    if isinstance(key, float) and not math.isfinite(key):
        return f"{table.primary_key} is {key}, not a finite number"
    columns = frozenset(column.name for column in table.columns)
    return (
        _fields_problem(record, table.fields, (), columns)
        or _unwritable(record)
        or _unusable_in_a_path(record, table)
    )


URL_PATH_SAFE = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
"""What a value must look like to fill a path parameter as is: dlt's rest_api puts a parent's
field into the child's path unquoted, so ``a?b`` or ``..`` would ask for another URL."""


def _unusable_in_a_path(record: dict[str, Any], table: Table) -> str | None:
    """Why the record's field that per-parent endpoints put into their paths cannot go there."""
    for child in children_of(table):
        value = record.get(child.parent.field)  # type: ignore[union-attr]  # a child has one
        if isinstance(value, bool) or not isinstance(value, str | int):
            return f"{child.parent.field} is {_json_type(value)}; {child.path} needs it in the path"
        if not URL_PATH_SAFE.fullmatch(str(value)):
            return (
                f"{child.parent.field} {str(value)!r} has characters that cannot go into "
                f"{child.path} as they are"
            )
    return None


def _unwritable(record: dict[str, Any]) -> str | None:
    """What no writer takes: integers beyond signed 64 bits, lone surrogates, absurd nesting."""
    try:
        orjson.dumps(record)  # refuses surrogates, nesting beyond 255 and ints beyond 2^64
    except TypeError as error:
        return _oversized_integer(record, ()) or f"it cannot be written as JSON ({error})"
    return _oversized_integer(record, ())  # 2^63 .. 2^64 - 1: orjson takes them, dlt does not


def _colliding_key(
    values: dict[str, Any], fields: tuple[Field, ...], path: tuple, columns: frozenset[str]
) -> str | None:
    """A key dlt would load into a declared column though it is spelt otherwise: ``ID`` (named
    ``id``), or a top-level ``data__city`` (dlt reads ``__`` as nesting: ``data.city``)."""
    declared = {field.name for field in fields}
    for key in values:
        if key in declared or not isinstance(key, str):
            continue
        column = _NAMING.normalize_identifier(key)
        flattened = _NAMING.normalize_path(NESTING_SEPARATOR.join((*path, key)))
        for target in (column, flattened):
            if target in declared or target in columns:
                name = ".".join((*path, key))
                return f"{name} would load into the declared column {target!r} as well"
    return None


def _fields_problem(
    values: dict[str, Any], fields: tuple[Field, ...], path: tuple, columns: frozenset[str]
) -> str | None:
    collision = _colliding_key(values, fields, path, columns)
    if collision:
        return collision
    for field in fields:
        value = values.get(field.name)
        name = ".".join((*path, field.name))
        if value is None:
            if field.type == "object" and not field.nullable:
                return f"{name} is null or missing; declared a non-nullable object"
            continue
        if field.type == "object":
            if not isinstance(value, dict):
                return f"{name} is {_json_type(value)}; declared an object"
            problem = _fields_problem(value, field.fields, (*path, field.name), columns)
            if problem:
                return problem
        elif field.type == "json":
            if not isinstance(value, dict | list):  # a scalar would load into a variant column
                return f"{name} is {_json_type(value)}; declared JSON (an object or a list)"
        elif field.type == "timestamp":
            if not isinstance(value, str) or parse_timestamp(value) is None:
                return f"{name} is {value!r}; declared an ISO 8601 timestamp"
        elif isinstance(value, dict | list):
            return f"{name} is {_json_type(value)}; declared {field.type}"
        elif field.type == "integer" and (number := _oversized_integer(value, (*path, field.name))):
            return number
    return None


def parse_timestamp(value: str) -> datetime | None:
    """``value`` (ISO 8601) as an aware UTC datetime; a value without offset is UTC. None if it
    does not parse."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def trim_undeclared(record: Any, fields: tuple[Field, ...]) -> Any:
    """``record`` without the undeclared members of objects declared ``drop_undeclared``
    (campaign_leads.lead keeps only its id); anything that is not such an object is unchanged."""
    if not isinstance(record, dict):
        return record
    for field in fields:
        value = record.get(field.name)
        if field.type != "object" or not isinstance(value, dict):
            continue
        if field.drop_undeclared:
            declared = {member.name for member in field.fields}
            value = {name: member for name, member in value.items() if name in declared}
            record[field.name] = value
        trim_undeclared(value, field.fields)
    return record


def has_undeclared_drops(fields: tuple[Field, ...]) -> bool:
    """Whether any object among ``fields`` (at any depth) drops its undeclared members."""
    return any(
        field.drop_undeclared or has_undeclared_drops(field.fields)
        for field in fields
        if field.type == "object"
    )


def _oversized_integer(value: Any, path: tuple) -> str | None:
    """A number anywhere in the record (declared or not) that no warehouse column holds: an
    integer beyond signed 64 bits, or a float that is not finite (``1e400`` parses as inf).

    Iterative: a record may nest deeper than Python's recursion limit.
    """
    stack = [(value, path)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            return f"{'.'.join(path) or 'a value'} is {value}, beyond 64-bit integers"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{'.'.join(path) or 'a value'} is {value}, not a finite number"
        if isinstance(value, dict):
            stack.extend((member, (*path, str(name))) for name, member in value.items())
        elif isinstance(value, list):
            stack.extend((member, (*path, str(index))) for index, member in enumerate(value))
    return None


def rejected_row(
    record: Any,
    table: Table,
    reason: str,
    page_url: str,
    page: int,
    position: int,
    redact: Redactor,
) -> dict[str, Any]:
    """A row of ``rejected_records`` for ``record`` (the key masked in every text)."""
    key = record.get(table.primary_key) if isinstance(record, dict) else None
    unnamed = key is None or isinstance(key, dict | list) or not str(key).strip()
    record_id = None if unnamed else _text(redact(str(key)))
    return {
        "resource": table.name,
        "page_url": _text(redact(page_url)),
        "page": page,
        "position": position,
        "record_id": record_id,
        "reason": _text(redact(reason)),
        "raw_json": _text(redact(_json(record))[:MAX_RAW_JSON]),  # masked, then cut
        "rejected_at": datetime.now(UTC),
    }


def _json(record: Any) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # too deep for the standard library's encoder
        try:
            return repr(record)
        except RecursionError:
            return f"<{type(record).__name__} nested too deep to keep>"


def _text(value: str) -> str:
    """``value`` as storable text: a lone surrogate becomes its ``\\udxxx`` escape."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


class RejectedRecords:
    """The rows set aside during one run, per resource (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self.rows.extend(rows)

    def count(self, resource: str) -> int:
        """How many records of ``resource`` were set aside."""
        return sum(1 for row in self.rows if row["resource"] == resource)

    def for_run(self, run_id: str) -> list[dict[str, Any]]:
        """The rows, each tagged with ``run_id``."""
        return [{"run_id": run_id, **row} for row in self.rows]
