"""The environment a contender child runs in: settings pointed at the sandbox, a scratch dir."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.sandbox_proc import API_KEY, KEY_HEADER


def point_at_sandbox(
    base_url: str, workdir: Path, requests_per_minute: float | None = None
) -> None:
    """Set the project's settings for a run against ``base_url`` that writes under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "ANALYTICS_API_BASE_URL": base_url,
            "ANALYTICS_API_KEY": API_KEY,
            "ANALYTICS_API_KEY_HEADER": KEY_HEADER,
            "ANALYTICS_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
            "ANALYTICS_DLT_DIR": str(workdir / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
    )
    if requests_per_minute:
        os.environ["ANALYTICS_API_REQUESTS_PER_MINUTE"] = f"{requests_per_minute:g}"
    else:
        os.environ.pop("ANALYTICS_API_REQUESTS_PER_MINUTE", None)
