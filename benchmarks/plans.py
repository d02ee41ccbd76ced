"""What ``make bench-quick`` and ``make bench`` measure."""

from __future__ import annotations

from dataclasses import dataclass

from analytics_assets.settings import DEFAULT_MAX_CONCURRENCY


@dataclass(frozen=True)
class RatePlan:
    """A rate-limited sync: ``limit`` requests per ``window_s`` over ``leads`` / 100 pages."""

    leads: int
    limit: int
    window_s: float

    @property
    def requests_per_minute(self) -> float:
        """The limit as the per-minute figure ``ANALYTICS_API_REQUESTS_PER_MINUTE`` takes."""
        return self.limit * 60 / self.window_s


@dataclass(frozen=True)
class LatencyPlan:
    """A full sync of every endpoint at a real API's latency and rate limit."""

    leads: int
    campaigns: int
    latency_s: float = 0.25  # a real request: a few hundred milliseconds
    limit: int = 500  # PersistIq documents 100 per minute; a live probe allowed 500
    window_s: float = 60.0
    concurrency: int = DEFAULT_MAX_CONCURRENCY  # beside 1: one request at a time


@dataclass(frozen=True)
class Plan:
    """One benchmark run."""

    name: str
    leads: tuple[int, ...]
    repeats: int  # of floor and project, per lead count
    seed_repeats: int
    seed_max_leads: int  # seed default's memory grows with the data: 4.1 GB at 100k
    rate: RatePlan
    incremental_leads: int
    import_repeats: int
    users: int = 25
    campaigns: int = 40
    compare_memory_defaults: bool = False
    """Also run the project once as before issue #12's memory work: dlt's merge pass, DuckDB's
    and Arrow's memory defaults (features ``no_dedup_pass`` and ``memory_settings`` off)."""
    requests_leads: int = 20_000
    requests_campaigns: int = 200
    backfill_days: int = 30
    """The request-count scenario: a full sync of every endpoint and a 30-day backfill."""
    latency: LatencyPlan = LatencyPlan(leads=20_000, campaigns=200)


QUICK = Plan(
    name="quick",
    leads=(20_000,),
    repeats=3,
    seed_repeats=1,
    seed_max_leads=100_000,
    # a window scaled down to 10 s for speed: the rounding of X-RateLimit-Reset to whole
    # seconds weighs 6 x more than in a minute (see benchmarks/README.md)
    rate=RatePlan(leads=9_000, limit=60, window_s=10.0),  # 92 requests: about 15 s
    incremental_leads=20_000,
    import_repeats=5,
    latency=LatencyPlan(leads=2_000, campaigns=40),  # about 75 requests: about 20 s
)
FULL = Plan(
    name="full",
    leads=(100_000, 1_000_000),
    repeats=3,
    seed_repeats=1,
    seed_max_leads=100_000,
    # the API's own window: 120 requests per minute, 352 requests, about 3 minutes per run
    rate=RatePlan(leads=35_000, limit=120, window_s=60.0),
    incremental_leads=100_000,
    import_repeats=7,
    compare_memory_defaults=True,
)
PLANS = {plan.name: plan for plan in (QUICK, FULL)}
