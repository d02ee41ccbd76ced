"""The API as a Dagster resource: where a sync reads, with which key, how patiently.

Shown in the UI (Deployment -> the code location -> Resources) with each field's variable; the
launchpad can override a field for one run, e.g. ``{"resources": {"api": {"config":
{"timeout_s": "5"}}}}``. The sandbox is another configuration of it (``base_url`` and the key).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from analytics_assets.settings import EnvBackedResource


class AnalyticsApiResource(EnvBackedResource):
    """The sales-engagement API a sync reads (PersistIq's v1 or the sandbox)."""

    VARIABLES: ClassVar[dict[str, str]] = {
        "base_url": "ANALYTICS_API_BASE_URL",
        "key_header": "ANALYTICS_API_KEY_HEADER",
        "api_key": "ANALYTICS_API_KEY",
        "max_attempts": "ANALYTICS_API_MAX_ATTEMPTS",
        "backoff_factor": "ANALYTICS_API_BACKOFF_FACTOR",
        "timeout_s": "ANALYTICS_API_TIMEOUT_S",
        "max_wait_s": "ANALYTICS_API_MAX_WAIT_S",
        "requests_per_minute": "ANALYTICS_API_REQUESTS_PER_MINUTE",
        "max_concurrency": "ANALYTICS_API_MAX_CONCURRENCY",
        "leads_overlap_s": "ANALYTICS_LEADS_OVERLAP_S",
    }

    base_url: str | None = Field(
        default=None, description="API root (ANALYTICS_API_BASE_URL; the seed's by default)."
    )
    key_header: str | None = Field(
        default=None, description="Header carrying the key (ANALYTICS_API_KEY_HEADER; api_key)."
    )
    api_key: str | None = Field(
        default=None,
        description="The API key: ANALYTICS_API_KEY as an environment variable, never a literal.",
        json_schema_extra={"dagster__is_secret": True},  # a literal shows masked in the UI
    )
    max_attempts: str | None = Field(
        default=None, description="Attempts per request in total (ANALYTICS_API_MAX_ATTEMPTS; 3)."
    )
    backoff_factor: str | None = Field(
        default=None, description="Exponential backoff factor (ANALYTICS_API_BACKOFF_FACTOR; 2)."
    )
    timeout_s: str | None = Field(
        default=None,
        description="Deadline of one attempt, whole body included (ANALYTICS_API_TIMEOUT_S; 30).",
    )
    max_wait_s: str | None = Field(
        default=None,
        description="Longest wait the API may ask for (ANALYTICS_API_MAX_WAIT_S; 300).",
    )
    requests_per_minute: str | None = Field(
        default=None,
        description="Pace of every request (ANALYTICS_API_REQUESTS_PER_MINUTE; no cap).",
    )
    max_concurrency: str | None = Field(
        default=None,
        description="Requests in flight at once (ANALYTICS_API_MAX_CONCURRENCY; 8).",
    )
    leads_overlap_s: str | None = Field(
        default=None,
        description="Incremental leads re-read this much earlier (ANALYTICS_LEADS_OVERLAP_S; 300).",
    )
