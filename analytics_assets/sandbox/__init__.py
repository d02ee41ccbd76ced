"""A local sandbox of PersistIq's v1 API for the offline demo, the tests and the benchmarks.

Standard library only: it must run where neither dagster nor dlt is wanted.

Example:
    with SandboxServer(SandboxConfig(leads=500, rate_limit=100)) as sandbox:
        sandbox.inject("leads", Status(503, {"Retry-After": "1"}), page=3, times=2)
        url = sandbox.base_url + "leads"  # send header x-api-key: sandbox-key
"""

from analytics_assets.sandbox.data import ALL_NULL_COLUMN
from analytics_assets.sandbox.defects import DEFECTS
from analytics_assets.sandbox.fakes import GENERATED_UNTIL
from analytics_assets.sandbox.faults import (
    Delay,
    DuplicateRecord,
    EmptyPageHasMore,
    ErrorEnvelope,
    Fault,
    ForeignNextPage,
    HasMoreWithoutNextPage,
    Headers,
    Injection,
    InvalidJson,
    MissingResourceKey,
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
from analytics_assets.sandbox.server import LoggedRequest, SandboxConfig, SandboxServer

__all__ = [
    "ALL_NULL_COLUMN",
    "DEFECTS",
    "GENERATED_UNTIL",
    "Delay",
    "DuplicateRecord",
    "EmptyPageHasMore",
    "ErrorEnvelope",
    "Fault",
    "ForeignNextPage",
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
    "ReplaceRecord",
    "Reset",
    "SandboxConfig",
    "SandboxServer",
    "Status",
    "Trickle",
    "Truncated",
]
