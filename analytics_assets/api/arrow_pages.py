"""Pages as Arrow tables: dlt's fast path, taken only by pages that match schema.py exactly.

dlt normalizes Python records one by one (flattening, type coercion, variant columns): about
35 µs per lead, several times the cost of fetching and parsing it. A page whose records all have
exactly the declared shape (no undeclared key, every value ``None`` or of its declared JSON type)
needs none of that: ``PagesAsArrow`` turns it into an Arrow table with the declared columns
(``data__city``, ...) and dlt writes it to parquet as is. Any other page (a string in an integer
field, an undeclared field, a null id, ...) is checked record by record (``records.py``): records
that cannot load as declared are set aside into ``rejected_records`` (and the read is marked
incomplete, which holds back an incremental cursor); the rest pass on as records, so dlt's
normal path treats them exactly as before: variant columns, new columns, coercions and all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.items_transform import ItemTransform
from requests import Response

from analytics_assets.api.paginator import PageScreen
from analytics_assets.api.records import (
    SET_ASIDE_NOTE,
    RejectedRecords,
    has_undeclared_drops,
    rejected_row,
    shape_problem,
    trim_undeclared,
)
from analytics_assets.api.redact import NO_SECRETS, Redactor
from analytics_assets.schema import Field, FieldType, Table

ARROW_TYPES: dict[FieldType, pa.DataType] = {
    "string": pa.string(),
    "boolean": pa.bool_(),
    "integer": pa.int64(),
}
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeError, TypeError)
BATCH_ROWS = 10_000
"""Rows per Arrow table handed to dlt: dlt recomputes the table schema for every Arrow item
(about 12 ms), so single pages of 100 rows would cost more than they save."""


def _objects(table: Table) -> dict[tuple[str, ...], frozenset[str]]:
    """Path of every object field -> the member names it may hold (the root is ``()``)."""
    shapes: dict[tuple[str, ...], frozenset[str]] = {}

    def visit(path: tuple[str, ...], fields: Sequence[Field]) -> None:
        shapes[path] = frozenset(field.name for field in fields)
        for field in fields:
            if field.type == "object":
                visit((*path, field.name), field.fields)

    visit((), table.fields)
    return shapes


def _required_objects(table: Table) -> list[tuple[str, ...]]:
    """Paths of the object fields that must not be null (e.g. ``("data",)`` of leads)."""
    paths: list[tuple[str, ...]] = []

    def visit(path: tuple[str, ...], fields: Sequence[Field]) -> None:
        for field in fields:
            if field.type == "object":
                if not field.nullable:
                    paths.append((*path, field.name))
                    visit((*path, field.name), field.fields)

    visit((), table.fields)
    return paths


def _nested_fields(fields: Sequence[Field]) -> list[pa.Field]:
    """The records' own shape: objects as Arrow structs, everything nullable."""
    return [
        pa.field(f.name, pa.struct(_nested_fields(f.fields)))
        if f.type == "object"
        else pa.field(f.name, ARROW_TYPES[f.type])
        for f in fields
    ]


def has_fast_path(table: Table) -> bool:
    """Whether ``table``'s pages may become Arrow tables: only strings, booleans, integers and
    objects of them. Timestamps and JSON columns take dlt's record path, which types them."""
    return all(column.type in ARROW_TYPES for column in table.columns)


def arrow_schema(table: Table) -> pa.Schema:
    """The Arrow schema of ``table``'s columns; only the primary key is not nullable."""
    return pa.schema(
        pa.field(column.name, ARROW_TYPES[column.type], nullable=column.name != table.primary_key)
        for column in table.columns
    )


class PagesAsArrow(ItemTransform[Any, dict[str, Any]]):
    """A dlt pipe step: pages of records -> Arrow tables of ``batch_rows``, where they fit.

    It must come first after the resource's generator, where items are still dlt's
    ``PageData``: a page's ``paginator.has_next_page`` says when to hand over the last batch.
    Pages that do not fit pass on at once, as records; empty pages pass on unchanged.

    Args:
        table: The declared table the resource's records belong to.
        rejected: Where records set aside go (a new, unread collector if None).
        redact: Masks the API key in rejected rows.
        batch_rows: Rows gathered before a table is handed to dlt.
        arrow: Convert pages that fit; False keeps every page as records (only set aside), as
            for tables without a fast path and for parents, whose children need records.
    """

    def __init__(
        self,
        table: Table,
        rejected: RejectedRecords | None = None,
        redact: Redactor = NO_SECRETS,
        batch_rows: int = BATCH_ROWS,
        arrow: bool = True,
    ) -> None:
        super().__init__(lambda item: item)
        self.table = table
        self.rejected_records = rejected if rejected is not None else RejectedRecords()
        self.redact = redact
        self.pages = 0
        self.arrow = arrow and has_fast_path(table)
        self._trim = has_undeclared_drops(table.fields)
        self._required = _required_objects(table)
        self.batch_rows = batch_rows
        self._shapes = _objects(table)
        if self.arrow:
            self.schema = arrow_schema(table)
            self._nested = pa.struct(_nested_fields(table.fields))
        self._integers = [column for column in table.columns if column.type == "integer"]
        self._key = [column.name for column in table.columns].index(table.primary_key)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.arrow_pages = 0
        self.record_pages = 0

    def __call__(self, item: Any, meta: Any = None) -> Any:
        # Eager on purpose: dlt may call the step again before it drains a returned iterator.
        is_page = isinstance(item, list)
        self.pages += is_page
        if is_page and self._trim:
            for record in item:
                trim_undeclared(record, self.table.fields)
        keyed = is_page and bool(item) and self._mentions_key(item)
        converted = self.to_arrow(item) if is_page and item and self.arrow and not keyed else None
        if converted is not None:
            self.arrow_pages += 1
            self._pending.append(converted)
            self._pending_rows += converted.num_rows
        elif is_page and item:
            self.record_pages += 1
            self.set_aside(item, keyed)
        out: list[Any] = []
        if self._pending and (self._pending_rows >= self.batch_rows or _is_last_page(item)):
            out.append(pa.concat_tables(self._pending))
            self._pending, self._pending_rows = [], 0
        if converted is None and (item or not is_page):
            out.append(item)
        if not out:
            return None  # held back until the batch is full
        return out[0] if len(out) == 1 else iter(out)

    def _mentions_key(self, page: list[Any]) -> bool:
        return _mentions_key(getattr(page, "response", None), self.redact)

    def set_aside(self, page: list[Any], keyed: bool = False) -> None:
        """Move the records ``page`` cannot load as declared to the rejected records; with
        ``keyed``, also those holding the API key (the warehouse never stores it)."""
        response = getattr(page, "response", None)
        url = str(getattr(response, "url", "") or "")
        reason = set_aside(
            page, self.table, self.rejected_records, self.redact, url, self.pages, keyed
        )
        paginator = getattr(page, "paginator", None)
        if reason and hasattr(paginator, "read_incomplete"):
            paginator.read_incomplete(reason)

    def to_arrow(self, records: list[Any]) -> pa.Table | None:
        """``records`` as an Arrow table, or None if any of them strays from the schema."""
        objects: dict[tuple[str, ...], list[Any]] = {(): records}
        for path, members in self._shapes.items():  # parents come before their members
            values = objects[path] if not path else _member(objects[path[:-1]], path[-1])
            if not _objects_fit(values, members):
                return None
            objects[path] = values
        if any(None in objects[path] for path in self._required):
            return None  # a required object is null: set aside on the record path
        # pyarrow refuses any other type for strings and booleans, but truncates floats.
        for column in self._integers:
            if not _integers(_member(objects[column.path[:-1]], column.path[-1])):
                return None
        try:
            # One conversion in C++ for the whole page (from_pylist converts column by column).
            columns = _leaves(pa.array(records, type=self._nested))
        except ARROW_ERRORS:
            return None
        key = columns[self._key]
        if key.null_count or pc.any(pc.equal(pc.utf8_trim_whitespace(key), "")).as_py():
            return None  # a null or empty id: set aside on the record path
        return pa.Table.from_arrays(columns, schema=self.schema)


def set_aside(
    page: list[Any],
    table: Table,
    rejected: RejectedRecords,
    redact: Redactor,
    url: str,
    page_number: int,
    keyed: bool = False,
) -> str | None:
    """Move the records of ``page`` that cannot load as declared (with ``keyed``, also those
    holding the API key) into ``rejected``, in place; the reason the read is then incomplete."""
    problems = [
        shape_problem(record, table) or (keyed and _key_problem(record, redact)) or None
        for record in page
    ]
    if not any(problems):
        return None
    rows = [
        rejected_row(record, table, problem, url, page_number, position, redact)
        for position, (record, problem) in enumerate(zip(page, problems, strict=True))
        if problem
    ]
    page[:] = [record for record, problem in zip(page, problems, strict=True) if not problem]
    rejected.add(rows)
    return (
        f"{len(rows)} {table.name} record(s) on page {page_number} could not be loaded as "
        f"declared and {SET_ASIDE_NOTE}"
    )


def page_screen(
    table: Table, rejected: RejectedRecords, redact: Redactor = NO_SECRETS
) -> PageScreen:
    """``PagesAsArrow``'s record path as a function of one page, for a paginator to call on
    each page of a per-parent read (``NextPagePaginator(screen=)``): dlt reads those in
    parallel and hands on each parent's records flattened, no longer as pages. A closure, so
    that dlt's deep copy of the paginator (one per parent) keeps sharing ``rejected``.
    """
    trim = has_undeclared_drops(table.fields)

    def screen(page: list[Any], response: Response, page_number: int) -> str | None:
        if trim:
            for record in page:
                trim_undeclared(record, table.fields)
        keyed = bool(page) and _mentions_key(response, redact)
        url = str(response.url or "")
        return set_aside(page, table, rejected, redact, url, page_number, keyed)

    return screen


def _mentions_key(response: Response | None, redact: Redactor) -> bool:
    """Whether a page's body holds the API key anywhere (one search per page)."""
    body = getattr(response, "text", None)
    return isinstance(body, str) and redact.found_in(body)


def _key_problem(record: Any, redact: Redactor) -> str | None:
    text = json.dumps(record, ensure_ascii=False, default=str)
    if redact.found_in(text):
        return "it holds the API key (masked here); the warehouse never stores the key"
    return None


def _is_last_page(item: Any) -> bool:
    """True on the last page, and for any item that is not dlt's ``PageData`` (to be safe)."""
    paginator = getattr(item, "paginator", None)
    return paginator is None or not paginator.has_next_page


def _leaves(array: pa.StructArray) -> list[pa.Array]:
    """The struct's leaf columns in declared order (``data`` -> ``data.city``, ...); a null
    object makes its members null (``flatten`` applies the parent's validity)."""
    columns: list[pa.Array] = []
    for child in array.flatten():
        columns.extend(_leaves(child) if pa.types.is_struct(child.type) else [child])
    return columns


def _member(parents: list[Any], name: str) -> list[Any]:
    return [None if parent is None else parent.get(name) for parent in parents]


NONE = type(None)


def _objects_fit(values: list[Any], members: frozenset[str]) -> bool:
    """Every value is None or a dict whose keys are all ``members`` (set operations in C)."""
    if not set(map(type, values)) <= {dict, NONE}:
        return False
    present = [value for value in values if value is not None]
    return not present or set().union(*map(dict.keys, present)) <= members


def _integers(values: list[Any]) -> bool:
    return set(map(type, values)) <= {int, NONE}
