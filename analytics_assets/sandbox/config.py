"""The sandbox's configuration and its request log entries."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from analytics_assets.sandbox.activity import DEFAULT_DAYS
from analytics_assets.sandbox.data import DEFAULT_COUNTS
from analytics_assets.sandbox.defects import validate
from analytics_assets.schema import SEED_TABLES, TABLES, TABLES_BY_NAME

_SEED_NAMES = frozenset(table.name for table in SEED_TABLES)


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; every field has the default the demo and tests rely on.

    Attributes:
        api_key: The key clients must send.
        key_header: The header that carries it (matched case-insensitively).
        users: Number of users.
        leads: Number of leads.
        campaigns: Number of campaigns.
        table_counts: Rows of the other tables by name, e.g. ``{"replies": 50}``; unnamed ones
            take ``data.DEFAULT_COUNTS``. ``campaign_leads`` is capped at (campaigns - 1) x leads.
        seed: Seed of the generated data.
        page_size: Rows per page.
        page_mode: ``url``: next_page is an absolute URL carrying ``page`` and the request's
            filters; ``token``: next_page is an opaque cursor (carrying the filters too) that
            the client sends back as ``?next_page=<token>``.
        defects: Names from ``defects.DEFECTS`` to inject.
        bare_single_page: Omit has_more/next_page for users when they fit on one page.
        rate_limit: Authenticated requests allowed per window, as the real API's 100/minute;
            None (the default) serves without limit and without X-RateLimit-* headers.
        rate_window_s: The rate-limit window in seconds (short ones make fast tests).
        activity_end: The day after the last day of activity (replies' sent_at, events'
            created_at); None: today in UTC when the server is created.
        activity_days: How many UTC days of activity end there.
        latency_s: Seconds each answer takes, as a real API's few hundred milliseconds; 0 (the
            default) answers at once. Requests are answered concurrently, each on its thread.
        latency_jitter: Each answer's latency is ``latency_s`` times a uniform draw from
            1 - jitter to 1 + jitter (0.2: 250 ms ± 20 %).
    """

    api_key: str = "sandbox-key"
    key_header: str = "x-api-key"
    users: int = 25
    leads: int = 2500
    campaigns: int = 40
    seed: int = 7
    page_size: int = 100
    page_mode: Literal["url", "token"] = "url"
    defects: tuple[str, ...] = ()
    bare_single_page: bool = True
    rate_limit: int | None = None
    rate_window_s: float = 60.0
    table_counts: Mapping[str, int] = field(default_factory=dict, hash=False)
    activity_end: date | None = None
    activity_days: int = DEFAULT_DAYS
    latency_s: float = 0.0
    latency_jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.page_mode not in ("url", "token"):
            raise ValueError(f"page_mode must be 'url' or 'token', got {self.page_mode!r}")
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {self.page_size}")
        if min(self.users, self.leads, self.campaigns) < 0:
            raise ValueError("record counts must not be negative")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1 or None, got {self.rate_limit}")
        if not 0 < self.rate_window_s < float("inf"):
            raise ValueError(f"rate_window_s must be positive, got {self.rate_window_s}")
        for name, count in self.table_counts.items():
            if name not in TABLES_BY_NAME or name in _SEED_NAMES:
                others = [t.name for t in TABLES if t.name not in _SEED_NAMES]
                raise ValueError(
                    f"table_counts takes {', '.join(others)} (users, leads and campaigns have "
                    f"their own fields), not {name!r}"
                )
            if count < 0:
                raise ValueError(f"record counts must not be negative, got {name}={count}")
        object.__setattr__(self, "table_counts", dict(self.table_counts))
        if not 0 <= self.latency_s < float("inf"):
            raise ValueError(f"latency_s must be 0 or more seconds, got {self.latency_s}")
        if not 0 <= self.latency_jitter <= 1:
            raise ValueError(f"latency_jitter must be within 0..1, got {self.latency_jitter}")
        if self.activity_days < 1:
            raise ValueError(f"activity_days must be at least 1, got {self.activity_days}")
        object.__setattr__(self, "defects", validate(self.defects))

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table name, every table."""
        seed = {"users": self.users, "leads": self.leads, "campaigns": self.campaigns}
        return {**DEFAULT_COUNTS, **self.table_counts, **seed}


def latency_of(config: SandboxConfig, rng: random.Random) -> float:
    """One answer's latency in seconds: ``latency_s`` ± ``latency_jitter``, drawn from ``rng``."""
    if not config.latency_s:
        return 0.0
    jitter = config.latency_jitter
    return config.latency_s * rng.uniform(1 - jitter, 1 + jitter)


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it. Never holds the API key."""

    time: float  # time.monotonic() when the request arrived
    method: str
    path: str  # without the query string
    query: dict[str, str]
    status: int  # 0 when no complete response was sent (faults Reset and Truncated)
    resource: str | None  # None when the path matched no resource
    page: int | None  # None when no page was resolved (auth failure, bad params, 404)
    fault: str | None = None  # the injected fault's kind, e.g. "Status"; None if not faulted
    parent: str | None = None  # the campaign id of a per-campaign endpoint, else None
    in_flight: int = 1  # requests being answered when this one arrived, itself included
