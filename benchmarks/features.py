"""Switch the sync's speed-ups off (and tried-but-dropped ones on), in a benchmark child only.

Each feature names one change of issue 6; ``disable`` undoes it by patching the project's
modules before the first sync; ``enable`` applies an experiment the project did not keep.
Nothing here is imported by the project itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable

FEATURES: tuple[str, ...] = (
    "uncompressed",  # dlt writes extracted files without gzip
    "compiled_selector",  # the data selector is parsed once, not per page
    "fast_http",  # orjson (proxy settings read once per host: dropped with dlt's private names)
    "arrow",  # pages matching the schema go to dlt as Arrow tables
    "no_dedup_pass",  # dlt's merge without its de-duplication pass (warehouse/repeats.py)
    "memory_settings",  # DuckDB's memory_limit and friends, Arrow on the system allocator
)
"""In the order they were applied; the ablation enables them cumulatively."""

EXPERIMENTS: tuple[str, ...] = ()
"""Tried on top of all features and not kept (none at the moment: requests in flight, once
one, became the default with issue #12)."""


def _uncompressed() -> None:
    # environment variables win over the config the pipeline sets
    os.environ["ANALYTICS_API__DATA_WRITER__DISABLE_COMPRESSION"] = "false"


def _compiled_selector() -> None:
    from analytics_assets.api import source

    source.compile_path = lambda path: path  # type: ignore[assignment]


def _fast_http() -> None:
    import json
    from types import SimpleNamespace

    from analytics_assets.api import http

    # the standard library's parser where orjson parsed each page
    http.orjson = SimpleNamespace(loads=json.loads, JSONDecodeError=ValueError)  # type: ignore


def _arrow() -> None:
    from analytics_assets.api import arrow_pages

    # every page then takes dlt's record path, as before the change
    arrow_pages.PagesAsArrow.to_arrow = lambda self, records: None  # type: ignore[method-assign]


def _no_dedup_pass() -> None:
    from analytics_assets.api import source
    from analytics_assets.ingest import assets

    # dlt's plain merge, with its pass over the staged rows, and nothing removed afterwards
    source.MERGE_WITHOUT_DEDUP = "merge"  # type: ignore[assignment]
    assets.remove_repeated_rows = lambda *args: {}  # type: ignore[assignment]


def _memory_settings() -> None:
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "mimalloc"  # Arrow's own default, before any use
    from analytics_assets.warehouse import pipeline

    pipeline.DUCKDB_CONFIG = {}  # DuckDB's own defaults


DISABLE: dict[str, Callable[[], None]] = {
    "uncompressed": _uncompressed,
    "compiled_selector": _compiled_selector,
    "fast_http": _fast_http,
    "arrow": _arrow,
    "no_dedup_pass": _no_dedup_pass,
    "memory_settings": _memory_settings,
}
ENABLE: dict[str, Callable[[], None]] = {}


def disable(features: list[str]) -> None:
    """Undo the named speed-ups in this process."""
    for name in features:
        DISABLE[name]()


def enable(experiments: list[str]) -> None:
    """Apply the named experiments in this process."""
    for name in experiments:
        ENABLE[name]()
