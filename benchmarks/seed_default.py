"""Contender "seed default": the seed's rest_api config as written, on dlt's defaults.

The seed's shape (api-key header auth, ``primary_key: id``, ``merge``, one resource per endpoint
with its ``data_selector``, a nullable schema per resource) with the one fix it needs to read
more than page 1: the project's ``NextPagePaginator``. Everything else is dlt's default: its
requests session, ``insert_values`` loader files, default buffers and workers.

Run as a child: ``python -m benchmarks.seed_default --base-url URL --workdir D --out F``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks.child import write_payload
from benchmarks.env import point_at_sandbox
from benchmarks.phases import dlt_phases
from benchmarks.sandbox_proc import API_KEY, KEY_HEADER


def seed_config(base_url: str) -> dict[str, Any]:
    """The seed's config, literally, with ``NextPagePaginator`` instead of ``cursor``."""
    from analytics_assets.api.paginator import NextPagePaginator
    from analytics_assets.api.source import column_hints
    from analytics_assets.schema import SEED_TABLES

    return {
        "client": {
            "base_url": base_url,
            "auth": {
                "type": "api_key",
                "name": KEY_HEADER,
                "api_key": API_KEY,
                "location": "header",
            },
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": table.name,
                "endpoint": {
                    "path": f"/{table.name}",
                    "data_selector": table.name,
                    "paginator": NextPagePaginator(records_key=table.name),
                },
                "columns": column_hints(table),
            }
            for table in SEED_TABLES
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    point_at_sandbox(args.base_url, args.workdir)
    import_started = time.perf_counter()
    import dlt
    from dlt.sources.rest_api import rest_api_source

    imported = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="seed_default",
        pipelines_dir=str(args.workdir / "dlt"),
        destination=dlt.destinations.duckdb(str(args.workdir / "seed.duckdb")),
        dataset_name="analytics_api",
    )
    info = pipeline.run(rest_api_source(seed_config(args.base_url), name="analytics_api"))
    wall = time.perf_counter() - imported
    info.raise_on_failed_jobs()
    trace = pipeline.last_trace
    rows = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    write_payload(
        args.out,
        {
            "wall_s": wall,
            "import_s": imported - import_started,
            "phases": dlt_phases(trace),
            "rows": {name: count for name, count in rows.items() if not name.startswith("_dlt")},
            "loader_file_format": "insert_values",
        },
    )


if __name__ == "__main__":
    main()
