"""Switch the sync's speed-ups off (and tried-but-dropped ones on), in a benchmark child only.

Each feature names one change of issue 6; ``disable`` undoes it by patching the project's
modules before the first sync; ``enable`` applies an experiment the project did not keep.
Nothing here is imported by the project itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

FEATURES: tuple[str, ...] = (
    "uncompressed",  # dlt writes extracted files without gzip
    "compiled_selector",  # the data selector is parsed once, not per page
    "fast_http",  # orjson (proxy settings read once per host: dropped with dlt's private names)
    "arrow",  # pages matching the schema go to dlt as Arrow tables
)
"""In the order they were applied; the ablation enables them cumulatively."""

EXPERIMENTS: tuple[str, ...] = (
    "parallel",  # parallelized resources: the next page is fetched while dlt works
    "no_dedup",  # tell dlt's merge the staging data is deduplicated (no ROW_NUMBER pass)
)
"""Tried on top of all features and not kept (no measurable gain)."""


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


def _parallel() -> None:
    from analytics_assets.api import source

    seed_config = source.seed_config

    def parallelized(*args: Any, **kwargs: Any) -> Any:
        config = seed_config(*args, **kwargs)
        config["resource_defaults"]["parallelized"] = True
        return config

    source.seed_config = parallelized  # type: ignore[assignment]


def _no_dedup() -> None:
    from analytics_assets.api import source
    from analytics_assets.ingest import assets

    make_source = source.analytics_api_source

    def deduplicated(*args: Any, **kwargs: Any) -> Any:
        dlt_source = make_source(*args, **kwargs)
        for resource in dlt_source.resources.values():
            resource.apply_hints(additional_table_hints={"x-stage-data-deduplicated": True})
        return dlt_source

    assets.analytics_api_source = deduplicated  # type: ignore[assignment]


DISABLE: dict[str, Callable[[], None]] = {
    "uncompressed": _uncompressed,
    "compiled_selector": _compiled_selector,
    "fast_http": _fast_http,
    "arrow": _arrow,
}
ENABLE: dict[str, Callable[[], None]] = {"parallel": _parallel, "no_dedup": _no_dedup}


def disable(features: list[str]) -> None:
    """Undo the named speed-ups in this process."""
    for name in features:
        DISABLE[name]()


def enable(experiments: list[str]) -> None:
    """Apply the named experiments in this process."""
    for name in experiments:
        ENABLE[name]()
