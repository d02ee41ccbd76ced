"""The dlt ``rest_api`` source: the seed's config, grown to every endpoint of schema.py.

The config keeps the seed's shape (client with api-key header auth, ``resource_defaults`` with
``primary_key: id`` and ``merge``, one resource per endpoint with its ``data_selector``); column
hints come from schema.py. Requests go through ``ApiSession`` (retries, deadlines, the shared
rate limiter, the origin rule); leads are read incrementally with ``updated_after``. Per-campaign
endpoints are dlt child resources of ``campaigns`` (one request sequence per campaign);
daily-partitioned endpoints read the range of days they are given (``window.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dlt.common.jsonpath import compile_path
from dlt.common.schema.typing import TColumnSchema, TDeleteInsertStrategyDict
from dlt.sources import DltSource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source
from requests import Session

from analytics_assets.api.arrow_pages import PagesAsArrow, page_screen
from analytics_assets.api.auth import FirstAnswers
from analytics_assets.api.children import VanishedParents
from analytics_assets.api.incremental import UpdatedAfterPaginator
from analytics_assets.api.paginator import NextPagePaginator, PageCallback
from analytics_assets.api.records import RejectedRecords
from analytics_assets.api.redact import NO_SECRETS, Redactor
from analytics_assets.api.window import DayRange, record_filter
from analytics_assets.schema import (
    API_NAME,
    LEADS,
    SYNC_TABLES,
    TABLES,
    FieldType,
    Table,
    children_of,
)
from analytics_assets.settings import Settings

DLT_DATA_TYPES: dict[FieldType, str] = {
    "string": "text",
    "boolean": "bool",
    "integer": "bigint",
    "timestamp": "timestamp",
    "json": "json",
}
ProgressFactory = Callable[[str], PageCallback | None]
IncompleteReport = Callable[[str, str], None]
"""Called with a resource name and why its read is not known complete."""


def _ignore(resource: str, reason: str) -> None:
    """The default ``on_incomplete``: the reason is kept on the paginator all the same."""


def column_hints(table: Table) -> dict[str, TColumnSchema]:
    """dlt column hints for ``table``: every declared column gets its declared type.

    Only the primary key is NOT NULL in the warehouse. The seed's other non-nullable fields are
    enforced by asset checks instead, so that one bad record cannot abort a whole load.
    """
    hints: dict[str, TColumnSchema] = {}
    for column in table.columns:
        is_key = column.name == table.primary_key
        hint: TColumnSchema = {
            "data_type": DLT_DATA_TYPES[column.type],  # type: ignore[typeddict-item]
            "nullable": not is_key,
            "description": column.description,
        }
        if is_key:
            hint["primary_key"] = True
        hints[column.name] = hint
    return hints


def drop_null_objects(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A map step removing the record's null nested objects (e.g. ``campaigns.creator``).

    The column hints already give ``creator__id`` etc. their types; a bare ``creator: null``
    would only make dlt warn on every load that it cannot type a column named ``creator``.
    """
    objects = tuple(field.name for field in table.fields if field.type == "object")

    def drop(record: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(record, dict):  # an Arrow table (arrow_pages.py) has no such objects
            return record
        for name in objects:
            if name in record and record[name] is None:
                del record[name]
        return record

    return drop


MERGE_WITHOUT_DEDUP: TDeleteInsertStrategyDict = {
    "disposition": "merge",
    "strategy": "delete-insert",
    "deduplicated": True,
}
"""The seed's ``merge`` (delete-insert: the rows of each id a load writes replace that id's
rows) without dlt's pass over the staged rows, which held about 1 GB for 1M leads: the sync
keeps one row per id after the load instead (``warehouse/repeats.py``).

dlt keeps ``deduplicated: true`` in the dataset's stored schema once a load used it: a later
load without it still skips the pass (dlt 1.31). Going back to dlt's pass means editing the
stored schema."""


def _paginator(
    table: Table,
    settings: Settings,
    on_page: PageCallback | None,
    full_refresh: bool,
    on_incomplete: IncompleteReport,
    redact: Redactor,
    rejected: RejectedRecords | None,
) -> NextPagePaginator:
    common: dict[str, Any] = {
        "records_key": table.name,
        "cursor_param": "next_page",
        "primary_key": table.primary_key,
        "on_page": on_page,
        "on_incomplete": lambda reason: on_incomplete(table.name, reason),
        "redact": redact,
    }
    if table.parent is not None and rejected is not None:
        common["screen"] = page_screen(table, rejected, redact)
    if table is LEADS:
        return UpdatedAfterPaginator(
            overlap=timedelta(seconds=settings.leads_overlap_s),
            full_refresh=full_refresh,
            **common,
        )
    return NextPagePaginator(**common)


def reads_in_full(table: Table, full_refresh: bool) -> bool:
    """Whether a sync asks the API for every record of ``table``: all but the daily tables,
    and leads (read incrementally) only in a full refresh."""
    return table.window is None and (table is not LEADS or full_refresh)


def read_order(tables: tuple[Table, ...]) -> tuple[Table, ...]:
    """``tables`` plus the parents their per-parent reads need, parents first."""
    names = {table.name for table in tables}
    names |= {table.parent.table for table in tables if table.parent}
    return tuple(table for table in TABLES if table.name in names)


def top_level_reads(tables: tuple[Table, ...]) -> tuple[str, ...]:
    """The resources that make a first request of their own when ``tables`` are read."""
    return tuple(table.name for table in read_order(tables) if table.parent is None)


def _endpoint(
    table: Table,
    paginator: NextPagePaginator,
    first_answers: FirstAnswers | None,
    vanished: VanishedParents | None,
    days: DayRange | None,
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "path": table.path,
        # The seed's selector, parsed here once: dlt would parse a string per page.
        "data_selector": compile_path(table.name),
        "paginator": paginator,
    }
    params: dict[str, Any] = {}
    if table.parent is not None:
        parent = table.parent
        params[parent.param] = {"type": "resolve", "resource": parent.table, "field": parent.field}
        if vanished is not None:
            endpoint["response_actions"] = [vanished.hook(table)]
    elif first_answers is not None:
        endpoint["response_actions"] = [first_answers.hook(table.name)]
    if table.window is not None:
        if days is None:
            raise ValueError(f"{table.name} is read by days: give the range of days to read")
        params.update(days.request_params(table.window))
    if params:
        endpoint["params"] = params
    return endpoint


def seed_config(
    settings: Settings,
    api_key: str,
    session: Session | None = None,
    on_page: ProgressFactory = lambda resource: None,
    full_refresh: bool = False,
    first_answers: FirstAnswers | None = None,
    on_incomplete: IncompleteReport = _ignore,
    redact: Redactor = NO_SECRETS,
    tables: tuple[Table, ...] = SYNC_TABLES,
    days: DayRange | None = None,
    vanished: VanishedParents | None = None,
    rejected: RejectedRecords | None = None,
) -> RESTAPIConfig:
    """The seed's ``rest_api`` config, one resource per table read (see ``read_order``).

    Args:
        settings: Base URL, key header and the leads overlap.
        api_key: The secret, sent in ``settings.key_header`` through dlt's api_key auth (dlt
            redacts it from its logs; a plain header would not be).
        session: The requests session to use (``ApiClient(...).session``); dlt's default if None.
        on_page: Returns the progress callback for a resource name, or None.
        full_refresh: Read all leads instead of those updated since the last sync.
        first_answers: Reports a refused key for every top-level endpoint at once (api/auth.py);
            None leaves dlt's default, which stops at the first refusal.
        on_incomplete: Told when a resource's read ends without being known complete.
        redact: Masks the API key in what the paginators and rejected rows report.
        tables: The tables to read; the parents of per-parent tables are read too.
        days: The UTC days to read of tables with a time window (events, replies).
        vanished: Skips per-parent reads whose parent is gone (404); None fails on a 404.
        rejected: Where the records of per-parent reads that cannot load are set aside, page
            by page (top-level pages are screened by ``PagesAsArrow``); None screens none.

    Every resource is ``parallelized``: the resources, and the per-parent reads of each parent
    record, run concurrently in dlt's extract workers (``ANALYTICS_API_MAX_CONCURRENCY``,
    ``warehouse/pipeline.py``); the pages of one read follow each other.
    """
    client: dict[str, Any] = {
        "base_url": settings.base_url,
        "auth": {
            "type": "api_key",
            "name": settings.key_header,
            "api_key": api_key,
            "location": "header",
        },
    }
    if session is not None:
        client["session"] = session
    return {
        "client": client,  # type: ignore[typeddict-item]
        "resource_defaults": {"primary_key": "id", "write_disposition": MERGE_WITHOUT_DEDUP},
        "resources": [
            {
                "name": table.name,
                "endpoint": _endpoint(  # type: ignore[typeddict-item]
                    table,
                    _paginator(
                        table,
                        settings,
                        on_page(table.name),
                        full_refresh,
                        on_incomplete,
                        redact,
                        rejected,
                    ),
                    first_answers,
                    vanished,
                    days,
                ),
                "columns": column_hints(table),
                "processing_steps": [{"map": drop_null_objects(table)}],
                "parallelized": True,
            }
            for table in read_order(tables)
        ],
    }


def analytics_api_source(
    settings: Settings,
    api_key: str,
    session: Session | None = None,
    on_page: ProgressFactory = lambda resource: None,
    full_refresh: bool = False,
    first_answers: FirstAnswers | None = None,
    on_incomplete: IncompleteReport = _ignore,
    redact: Redactor = NO_SECRETS,
    rejected: RejectedRecords | None = None,
    tables: tuple[Table, ...] = SYNC_TABLES,
    days: DayRange | None = None,
    vanished: VanishedParents | None = None,
) -> DltSource:
    """The dlt source reading ``tables`` (see ``seed_config`` for the arguments).

    Only ``tables`` are selected: a parent read only for its children's sake (campaigns, for
    replies) is requested but not loaded. ``first_answers`` defaults to one expecting every
    top-level read. Records that cannot load as declared are set aside into ``rejected``
    (api/records.py); records of windowed tables outside ``days`` are dropped (window.py).
    """
    if first_answers is None:
        first_answers = FirstAnswers(top_level_reads(tables))
    if rejected is None:
        rejected = RejectedRecords()
    config = seed_config(
        settings,
        api_key,
        session,
        on_page,
        full_refresh,
        first_answers,
        on_incomplete,
        redact,
        tables,
        days,
        vanished,
        rejected,
    )
    source = rest_api_source(config, name=API_NAME)
    for table in read_order(tables):
        resource = source.resources[table.name]
        # Pages that match schema.py exactly skip dlt's per-record normalizer; records that
        # cannot load are set aside (arrow_pages.py). First after the generator, where pages
        # still carry their paginator. A parent's children need its records, not Arrow tables.
        # Per-parent reads are screened page by page in their paginator (see seed_config):
        # dlt hands on each parent's records in one list, and such a read that ends early (a
        # 404) would have no last page to hand over an Arrow batch held back for it.
        if table.parent is None:
            step = PagesAsArrow(table, rejected, redact, arrow=not children_of(table))
            resource.add_step(step, insert_at=1)
            # rest_api's own ``parallelized`` is lost on top-level resources (dlt 1.31 wraps
            # the bound generator again, without it): ask dlt once more, on the bound resource.
            resource.parallelize()
        if table.window is not None and days is not None:
            resource.add_filter(record_filter(table.window, days))
    return source.with_resources(*(table.name for table in tables))
