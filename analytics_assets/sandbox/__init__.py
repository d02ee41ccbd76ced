"""A local sandbox of PersistIq's v1 API for the offline demo, the tests and the benchmarks.

Standard library only: it must run where neither dagster nor dlt is wanted.

Every table of ``analytics_assets.schema`` is served at its path, e.g. ``/v1/events`` and, per
campaign, ``/v1/campaigns/{campaign_id}/replies``; replies and events spread over the
``activity_days`` before ``SandboxConfig.activity_end``.

Example:
    with SandboxServer(SandboxConfig(leads=500, rate_limit=100)) as sandbox:
        sandbox.inject("leads", Status(503, {"Retry-After": "1"}), page=3, times=2)
        url = sandbox.base_url + "leads"  # send header x-api-key: sandbox-key
        campaign = sandbox.records("campaigns")[0]["id"]
        sandbox.delete_after_serving("campaigns", campaign)  # vanishes once listed
        first, end = sandbox.activity_days  # records_in_days("events", first, end)
"""

from analytics_assets.sandbox.config import LoggedRequest, SandboxConfig
from analytics_assets.sandbox.data import ALL_NULL_COLUMN
from analytics_assets.sandbox.defects import DEFECTS
from analytics_assets.sandbox.fakes import GENERATED_UNTIL
from analytics_assets.sandbox.faults import (
    Delay,
    DuplicateRecord,
    EmptyPageHasMore,
    EndsEarly,
    ErrorEnvelope,
    EscapeSlashes,
    Fault,
    ForeignNextPage,
    HasMoreWithoutNextPage,
    Headers,
    Injection,
    InvalidJson,
    MissingResourceKey,
    NextPageElsewhere,
    PatchRecord,
    RecordsNotAList,
    Redirect,
    RelativeNextPage,
    RepeatedPage,
    ReplaceRecord,
    Reset,
    Status,
    Trickle,
    Truncated,
)
from analytics_assets.sandbox.server import SandboxServer

__all__ = [
    "ALL_NULL_COLUMN",
    "DEFECTS",
    "GENERATED_UNTIL",
    "Delay",
    "DuplicateRecord",
    "EmptyPageHasMore",
    "ErrorEnvelope",
    "EscapeSlashes",
    "Fault",
    "ForeignNextPage",
    "NextPageElsewhere",
    "HasMoreWithoutNextPage",
    "Headers",
    "Injection",
    "InvalidJson",
    "LoggedRequest",
    "MissingResourceKey",
    "RecordsNotAList",
    "PatchRecord",
    "Redirect",
    "RelativeNextPage",
    "RepeatedPage",
    "EndsEarly",
    "ReplaceRecord",
    "Reset",
    "SandboxConfig",
    "SandboxServer",
    "Status",
    "Trickle",
    "Truncated",
]
