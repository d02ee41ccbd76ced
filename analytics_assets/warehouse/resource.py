"""The warehouse as a Dagster resource, used by ingest, checks and models alike.

Shown in the UI beside the API's resource, each field with its variable; overridable in the
launchpad for one run. Destination credentials stay dlt's own (``DESTINATION__*``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from analytics_assets.settings import EnvBackedResource


class WarehouseResource(EnvBackedResource):
    """Where the raw tables, the models and dlt's working files go."""

    VARIABLES: ClassVar[dict[str, str]] = {
        "destination": "ANALYTICS_DESTINATION",
        "duckdb_path": "ANALYTICS_DUCKDB_PATH",
        "dlt_dir": "ANALYTICS_DLT_DIR",
        "duckdb_lock_wait_s": "ANALYTICS_DUCKDB_LOCK_WAIT_S",
    }

    destination: str | None = Field(
        default=None, description="The dlt destination (ANALYTICS_DESTINATION; duckdb)."
    )
    duckdb_path: str | None = Field(
        default=None, description="The DuckDB file (ANALYTICS_DUCKDB_PATH; data/analytics.duckdb)."
    )
    dlt_dir: str | None = Field(
        default=None, description="dlt's working directories (ANALYTICS_DLT_DIR; data/dlt)."
    )
    duckdb_lock_wait_s: str | None = Field(
        default=None,
        description="Wait for a DuckDB file held elsewhere (ANALYTICS_DUCKDB_LOCK_WAIT_S; 30).",
    )
