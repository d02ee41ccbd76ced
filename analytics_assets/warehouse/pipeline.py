"""The dlt pipeline: where the raw tables land, where dlt keeps its working files, how fast.

Each run (and each warehouse session of a check or model step) gets a working directory of its
own under ``ANALYTICS_DLT_DIR``, removed afterwards: dagster-dlt drops a pipeline's local state
before each run, so two runs sharing one directory (two ``dagster job execute``, or runs of two
instances outside the pool) would delete each other's files. Nothing is lost by that: dlt keeps
the state that matters (the incremental cursor) in the warehouse, committed with each load.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination import TDestinationReferenceArg

from analytics_assets.api.records import REJECTED_COLUMNS, REJECTED_TABLE
from analytics_assets.schema import API_NAME
from analytics_assets.settings import Settings, SettingsError

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


DUCKDB_CONFIG: dict[str, Any] = {
    # DuckDB's default takes up to 80 % of the machine's memory for its buffers. With the merge's
    # de-duplication pass gone (warehouse/repeats.py) no step of a sync needs more than this:
    # a 1M-lead load stays as fast, and what outgrows it (a model's join) spills to disk.
    "memory_limit": "100MB",
    "preserve_insertion_order": False,  # lets a load stream instead of buffering row order
    "allocator_flush_threshold": "16MB",  # hands freed memory back to the system sooner
}
"""DuckDB settings of every session dlt opens (loads, checks, models). Not pipeline-scoped, so
that dlt's own ``DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG`` replaces them all."""


DLT_PARALLEL_ITEMS = 20
"""dlt's default cap on parallel items waiting for a worker."""


def configure_dlt(max_concurrency: int, pipeline_name: str = API_NAME) -> None:
    """Put ``PERFORMANCE_CONFIG`` into dlt's in-memory config, under ``pipeline_name``, size
    dlt's extract workers (the threads the ``parallelized`` resources run their requests in,
    api/source.py) to ``max_concurrency`` requests in flight, and set ``DUCKDB_CONFIG``."""
    config = {
        **PERFORMANCE_CONFIG,
        "extract.workers": max_concurrency,
        "extract.max_parallel_items": max(DLT_PARALLEL_ITEMS, max_concurrency),
    }
    for key, value in config.items():
        dlt.config[f"{pipeline_name}.{key}"] = value
    dlt.config["destination.duckdb.credentials.global_config"] = DUCKDB_CONFIG


def _writable_dir(path: Path, variable: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise SettingsError(
            f"{variable}: cannot write in {path} ({type(error).__name__}: {error.strerror or error}"
            "); point it at a writable directory"
        ) from None


def warehouse_destination(settings: Settings) -> TDestinationReferenceArg:
    """The dlt destination: the DuckDB file by default, else the one ``settings`` names.

    Other destinations take their credentials the dlt way (``DESTINATION__POSTGRES__CREDENTIALS``
    and friends, or ``.dlt/secrets.toml``).
    """
    if settings.destination == "duckdb":
        _writable_dir(settings.duckdb_path.parent, "ANALYTICS_DUCKDB_PATH")
        return dlt.destinations.duckdb(str(settings.duckdb_path))
    return settings.destination


STALE_WORKDIR_S = 2 * 86_400.0
"""A working directory untouched this long belongs to a process that died (``kill -9``): no
run lives longer than the longest max runtime (24 h)."""


@contextmanager
def private_workdir(settings: Settings, name: str | None = None) -> Iterator[Path]:
    """A dlt working directory of this run's (``name``) or this session's own, removed after;
    those that killed processes left behind are removed too."""
    runs = settings.dlt_dir / "runs"
    path = runs / (name or f"session-{uuid.uuid4().hex}")
    _writable_dir(path, "ANALYTICS_DLT_DIR")
    _remove_stale(runs, keep=path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _remove_stale(runs: Path, keep: Path) -> None:
    now = time.time()
    for workdir in runs.iterdir():
        try:
            stale = workdir != keep and now - workdir.stat().st_mtime > STALE_WORKDIR_S
        except OSError:
            continue  # removed meanwhile by its own run
        if stale:
            shutil.rmtree(workdir, ignore_errors=True)


def analytics_pipeline(settings: Settings, workdir: Path, resolve_now: bool = True) -> dlt.Pipeline:
    """A fresh dlt pipeline working in ``workdir`` (see ``private_workdir``), loading the
    configured warehouse.

    Never ``~/.dlt`` or ``/var/dlt`` (dlt's telemetry is off: see ``analytics_assets/__init__``).

    Args:
        resolve_now: Resolve the destination's configuration at once. False leaves it to the
            caller's first use (``pipeline.sql_client()``), which resolves it again: a check
            step then pays dlt's configuration lookup once (~35 ms), not twice; it reports a
            bad configuration with ``destination_settings_error``.

    Raises:
        SettingsError: the destination is unknown or its configuration is incomplete (e.g. a
            PostgreSQL DSN without a password, which dlt requires), before any API request.
    """
    os.environ.setdefault("DLT_DATA_DIR", str(settings.dlt_dir))
    configure_dlt(settings.max_concurrency)
    try:
        pipeline = dlt.pipeline(
            pipeline_name=API_NAME,
            pipelines_dir=str(workdir),
            destination=warehouse_destination(settings),
            dataset_name=API_NAME,
        )
        if resolve_now:
            pipeline.destination_client()  # resolves the destination's configuration now
    except SettingsError:
        raise
    except Exception as error:
        settings_error = destination_settings_error(settings, error)
        if settings_error is None:
            raise
        raise settings_error from None
    return pipeline


def destination_settings_error(settings: Settings, error: Exception) -> SettingsError | None:
    """``error`` as a ``SettingsError`` naming what to fix, if it says the destination's
    configuration is wrong; None for any other error."""
    if not _is_configuration_error(error):
        return None
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return SettingsError(
        f"the warehouse destination {settings.destination!r} (ANALYTICS_DESTINATION) is not "
        f"usable: {first}. Fix its configuration (dlt's DESTINATION__<NAME>__CREDENTIALS, "
        "e.g. postgresql://user:password@host:5432/db: dlt requires a password)"
    )


def _is_configuration_error(error: Exception) -> bool:
    from dlt.common.configuration.exceptions import ConfigurationException
    from dlt.common.destination.exceptions import DestinationException
    from dlt.common.exceptions import TransientException

    permanent = isinstance(error, ConfigurationException | DestinationException)
    return permanent and not isinstance(error, TransientException)


def clear_rejected(pipeline: dlt.Pipeline, run_id: str) -> None:
    """Remove the rows an earlier attempt of run ``run_id`` set aside: a retried step sets aside
    anew, and its checks count the run's rows."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(REJECTED_TABLE)
        try:
            client.execute_sql(f"DELETE FROM {table} WHERE run_id = %s", run_id)
        except DatabaseUndefinedRelation:
            return  # nothing was ever set aside here


def load_rejected(pipeline: dlt.Pipeline, rows: list[dict[str, Any]]) -> None:
    """Append the records a run set aside to ``rejected_records`` (api/records.py says why in a
    load of their own, after the sync's load)."""
    resource = dlt.resource(
        rows, name=REJECTED_TABLE, write_disposition="append", columns=REJECTED_COLUMNS
    )
    pipeline.run(resource).raise_on_failed_jobs()
