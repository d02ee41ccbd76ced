"""Scenarios that need the sandbox's request log, so they run it in process (in a child).

``python -m benchmarks.scenarios rate-limit --leads N --limit L --window W [--rpm R] --out F``
``python -m benchmarks.scenarios incremental --leads N --change-share S --out F``
``python -m benchmarks.scenarios requests --leads N --campaigns C --days D --out F``
``python -m benchmarks.scenarios latency --leads N --campaigns C --latency S --limit L --window W
--concurrency K --out F``

Each runs ``analytics_api_sync`` against an in-process ``SandboxServer`` and reads its
``request_log``: the requests the API saw, with status and arrival time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.child import write_payload
from benchmarks.env import point_at_sandbox


def _sync() -> float:
    """Run ``analytics_api_sync`` once; its wall seconds. Raises if it failed."""
    import dagster as dg

    from analytics_assets.definitions import defs

    started = time.perf_counter()
    result = defs.resolve_job_def("analytics_api_sync").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    if not result.success:
        raise RuntimeError("analytics_api_sync failed")
    return time.perf_counter() - started


def rate_limited(leads: int, limit: int, window_s: float, rpm: float | None) -> dict[str, Any]:
    """A full sync against an API allowing ``limit`` requests per ``window_s``."""
    from analytics_assets.sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig(leads=leads, rate_limit=limit, rate_window_s=window_s)
    with SandboxServer(config) as server, tempfile.TemporaryDirectory() as tmp:
        point_at_sandbox(server.base_url, Path(tmp), requests_per_minute=rpm)
        wall = _sync()
        log = [entry for entry in server.request_log if entry.resource]
    served = [entry for entry in log if entry.status == 200]
    span = max(log[-1].time - log[0].time, 1e-9)
    allowed_per_s = limit / window_s
    return {
        "requests_per_minute": rpm,
        "limit": limit,
        "window_s": window_s,
        "wall_s": wall,
        "requests": len(log),
        "ok_requests": len(served),
        "status_429": sum(1 for entry in log if entry.status == 429),
        "span_s": span,
        # requests the API accepted per second over the sync's span, against what it allows;
        # the first request opens the first window, so N requests need (N - 1) gaps
        "rate_fraction": (len(served) - 1) / span / allowed_per_s,
    }


def latency(
    leads: int, campaigns: int, latency_s: float, limit: int, window_s: float, concurrency: int
) -> dict[str, Any]:
    """A full sync of every endpoint against an API answering in ``latency_s`` (± 20 %) and
    allowing ``limit`` requests per ``window_s`` (with PersistIq's X-RateLimit-* headers), with
    up to ``concurrency`` requests in flight."""
    from analytics_assets.sandbox import SandboxConfig, SandboxServer

    os.environ["ANALYTICS_API_MAX_CONCURRENCY"] = str(concurrency)

    config = SandboxConfig(
        leads=leads,
        campaigns=campaigns,
        latency_s=latency_s,
        rate_limit=limit,
        rate_window_s=window_s,
    )
    with SandboxServer(config) as server, tempfile.TemporaryDirectory() as tmp:
        point_at_sandbox(server.base_url, Path(tmp))
        wall = _sync()
        log = [entry for entry in server.request_log if entry.resource]
    allowed_per_s = limit / window_s
    span = max(log[-1].time - log[0].time, 1e-9)
    return {
        "leads": leads,
        "campaigns": campaigns,
        "latency_s": latency_s,
        "limit": limit,
        "window_s": window_s,
        "concurrency": concurrency,
        "max_in_flight": max((entry.in_flight for entry in log), default=0),
        "wall_s": wall,
        "requests": len(log),
        "status_429": sum(1 for entry in log if entry.status == 429),
        # the time the API's rate allows for these requests, and one request at a time's
        "physical_limit_s": len(log) / allowed_per_s,
        "one_at_a_time_s": len(log) * latency_s,
        # requests per second while the sync made them (as the rate-limited scenario's), and
        # over the whole job (its start, the checks and the models included)
        "span_s": span,
        "rate_share": (len(log) - 1) / span / allowed_per_s,
        "wall_share": len(log) / allowed_per_s / wall,
    }


def incremental(leads: int, change_share: float) -> dict[str, Any]:
    """A full sync, ``change_share`` of the leads changed, then an incremental sync."""
    from analytics_assets.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(leads=leads)) as server, tempfile.TemporaryDirectory() as tmp:
        point_at_sandbox(server.base_url, Path(tmp))
        full_s = _sync()
        full_pages = _lead_pages(server)
        changed = server.change_leads(round(leads * change_share))
        server.clear_log()
        incremental_s = _sync()
        incremental_pages = _lead_pages(server)
    return {
        "leads": leads,
        "changed": len(changed),
        "full_lead_pages": full_pages,
        "incremental_lead_pages": incremental_pages,
        "page_fraction": incremental_pages / full_pages,
        "full_s": full_s,
        "incremental_s": incremental_s,
    }


def request_counts(leads: int, campaigns: int, days: int) -> dict[str, Any]:
    """Requests of a full sync and of a ``days``-day backfill (one run), beside the floor: the
    fewest requests that can read the same records, 100 a page, one sequence per campaign."""
    from datetime import timedelta

    import dagster as dg

    from analytics_assets.automation import RANGE_TAGS
    from analytics_assets.definitions import defs
    from analytics_assets.sandbox import SandboxConfig, SandboxServer
    from analytics_assets.schema import ACTIVITY_TABLES, SYNC_TABLES

    config = SandboxConfig(leads=leads, campaigns=campaigns, activity_days=days)
    with SandboxServer(config) as server, tempfile.TemporaryDirectory() as tmp:
        point_at_sandbox(server.base_url, Path(tmp))
        sync_s = _sync()
        sync_requests = _requests(server)
        first, end = server.activity_days
        server.clear_log()
        started = time.perf_counter()
        tags = dict(zip(RANGE_TAGS, (str(first), str(end - timedelta(days=1))), strict=True))
        result = defs.resolve_job_def("analytics_api_activity_sync").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, tags=tags
        )
        if not result.success:
            raise RuntimeError("analytics_api_activity_sync failed")
        backfill_s = time.perf_counter() - started
        backfill_requests = _requests(server)
        campaign_ids = [c["id"] for c in server.records("campaigns")]
        sync_floor = {t.name: _floor(server, t.name, campaign_ids) for t in SYNC_TABLES}
        in_range = {t.name: server.records_in_days(t.name, first, end) for t in ACTIVITY_TABLES}
    backfill_floor = {
        "campaigns": _pages(len(campaign_ids)),
        "events": _pages(len(in_range["events"])),
        "replies": sum(
            _pages(sum(1 for r in in_range["replies"] if r["campaign_id"] == c))
            for c in campaign_ids
        ),
    }
    return {
        "leads": leads,
        "campaigns": campaigns,
        "days": days,
        "sync_s": sync_s,
        "sync_requests": sync_requests,
        "sync_floor": sync_floor,
        "backfill_s": backfill_s,
        "backfill_requests": backfill_requests,
        "backfill_floor": backfill_floor,
        # what a per-day backfill would cost: every day asks once per campaign, and for events
        "per_day_backfill_floor": days * (_pages(len(campaign_ids)) + 1 + len(campaign_ids)),
    }


def _pages(rows: int) -> int:
    return max(1, -(-rows // 100))


def _floor(server: Any, table: str, campaign_ids: list[str]) -> int:
    if table == "campaign_leads":
        return sum(_pages(len(server.records(table, c))) for c in campaign_ids)
    return _pages(len(server.records(table)))


def _requests(server: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in server.request_log:
        if entry.resource:
            counts[entry.resource] = counts.get(entry.resource, 0) + 1
    return counts


def _lead_pages(server: Any) -> int:
    return sum(1 for entry in server.request_log if entry.resource == "leads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("rate-limit", "incremental", "requests", "latency"))
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--leads", type=int, required=True)
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--rpm", type=float)
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.scenario == "rate-limit":
        payload = rate_limited(args.leads, args.limit, args.window, args.rpm)
    elif args.scenario == "latency":
        payload = latency(
            args.leads, args.campaigns, args.latency, args.limit, args.window, args.concurrency
        )
    elif args.scenario == "requests":
        payload = request_counts(args.leads, args.campaigns, args.days)
    else:
        payload = incremental(args.leads, args.change_share)
    write_payload(args.out, payload)


if __name__ == "__main__":
    main()
