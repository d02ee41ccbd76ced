"""Offline runs against the sandbox: `make demo` (one sync) and `make dev` (the Dagster UI)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.schema import TABLES

SANDBOX_KEY_HEADER = "x-api-key"  # PersistIq's header; the sandbox checks the same one


@contextmanager
def sandbox_environment(config: SandboxConfig | None = None) -> Iterator[SandboxServer]:
    """Start the sandbox on a free loopback port and point this process's settings at it."""
    config = config or SandboxConfig(key_header=SANDBOX_KEY_HEADER)
    saved = dict(os.environ)
    with SandboxServer(config) as server:
        os.environ["ANALYTICS_API_BASE_URL"] = server.base_url
        os.environ["ANALYTICS_API_KEY"] = config.api_key
        os.environ["ANALYTICS_API_KEY_HEADER"] = config.key_header
        print(f"sandbox API listening on {server.base_url}", flush=True)
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)


DEMO_DAYS = 7
"""Days of events and replies the demo reads: the last week, ending with yesterday (UTC)."""


def last_days(days: int, today: date | None = None) -> tuple[str, str]:
    """The first and last daily partition keys of the ``days`` UTC days before ``today``."""
    today = today or datetime.now(UTC).date()
    return str(today - timedelta(days=days)), str(today - timedelta(days=1))


def demo() -> int:
    """Run the last week of ``analytics_api_activity_sync`` (one run), then ``analytics_api_sync``
    (its models then count that week's replies), against the sandbox; print rows per table."""
    import dagster as dg
    import duckdb

    from analytics_assets.automation import RANGE_TAGS
    from analytics_assets.definitions import defs
    from analytics_assets.models.catalog import MODELS
    from analytics_assets.settings import load_settings

    first, last = last_days(DEMO_DAYS)
    runs = [
        ("analytics_api_activity_sync", dict(zip(RANGE_TAGS, (first, last), strict=True))),
        ("analytics_api_sync", {}),
    ]
    with sandbox_environment():
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
        for name, tags in runs:
            job = defs.resolve_job_def(name)
            result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
            if not result.success:
                print(f"{name} failed; see the run log above.", file=sys.stderr)
                return 1
    path = load_settings().duckdb_path
    with duckdb.connect(str(path), read_only=True) as con:
        print(f"\nsynced, and events and replies of {first}..{last} (UTC); rows in {path}:")
        for table in TABLES:
            (count,) = con.execute(f"SELECT COUNT(*) FROM analytics_api.{table.name}").fetchone()
            print(f"  analytics_api.{table.name:<14} {count:>8,}")
        for model in MODELS:
            (count,) = con.execute(f"SELECT COUNT(*) FROM {model.table_name}").fetchone()
            print(f"  {model.table_name:<37} {count:>8,}")
    return 0


def dagster_dev_command(port: int | str) -> list[str]:
    """``dagster dev`` on the project's workspace.yaml, on loopback only (run it in the project)."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        "workspace.yaml",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]


def dev() -> int:
    """Serve the sandbox and run ``dagster dev`` (UI on http://127.0.0.1:3000) until Ctrl-C."""
    with sandbox_environment():
        command = dagster_dev_command(os.environ.get("DAGSTER_PORT", "3000"))
        try:
            return subprocess.call(command)
        except KeyboardInterrupt:
            return 0
