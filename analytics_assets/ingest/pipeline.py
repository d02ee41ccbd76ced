"""The dlt pipeline: where the raw tables land, where dlt keeps its working files, how fast."""

from __future__ import annotations

import os
from typing import Any

import dlt
from dlt.common.destination import TDestinationReferenceArg

from analytics_assets.ingest.specs import DATASET
from analytics_assets.settings import Settings

PIPELINE_NAME = "analytics_api"
LOADER_FILE_FORMAT = "parquet"
"""dlt's DuckDB default, insert_values, took 93 s / 4.1 GB for 100k leads; parquet 17 s / 274 MB."""

PERFORMANCE_CONFIG: dict[str, Any] = {
    # The extracted files are read back once, moments later, on the same disk: gzip on them
    # cost 40 % of extract time (benchmarks/README.md).
    "data_writer.disable_compression": True,
    # Pages that arrive as Arrow tables (api/arrow_pages.py) get dlt's columns as records do.
    "normalize.parquet_normalizer.add_dlt_load_id": True,
    "normalize.parquet_normalizer.add_dlt_id": True,
}
"""dlt settings for speed, scoped to this pipeline. Environment variables still override them
(e.g. ``ANALYTICS_API__DATA_WRITER__DISABLE_COMPRESSION=false``)."""


def configure_dlt(pipeline_name: str = PIPELINE_NAME) -> None:
    """Put ``PERFORMANCE_CONFIG`` into dlt's in-memory config, under ``pipeline_name``."""
    for key, value in PERFORMANCE_CONFIG.items():
        dlt.config[f"{pipeline_name}.{key}"] = value


def warehouse_destination(settings: Settings) -> TDestinationReferenceArg:
    """The dlt destination: the DuckDB file by default, else the one ``settings`` names.

    Other destinations take their credentials the dlt way (``DESTINATION__POSTGRES__CREDENTIALS``
    and friends, or ``.dlt/secrets.toml``).
    """
    if settings.destination == "duckdb":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(settings.duckdb_path))
    return settings.destination


def analytics_pipeline(settings: Settings) -> dlt.Pipeline:
    """A fresh dlt pipeline for one run, loading the configured warehouse.

    dlt's working directory is ``settings.dlt_dir`` (inside the project by default), never
    ``~/.dlt`` or ``/var/dlt``, and dlt's anonymous telemetry is off: nothing leaves the machine.
    """
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", str(settings.dlt_dir))
    configure_dlt()
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(settings.dlt_dir),
        destination=warehouse_destination(settings),
        dataset_name=DATASET,
    )
