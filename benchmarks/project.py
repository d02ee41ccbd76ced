"""Contender "project": the Dagster materialization of ``analytics_api_sync``.

Executes the job in process (raw assets, their checks, then the models) on an ephemeral
instance. Phases: dlt's trace of the run (extract / normalize / load) and Dagster's step
durations (the raw step, the checks step, the models step).

Run as a child: ``python -m benchmarks.project --base-url URL --workdir D --out F``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.child import rss_kb, write_payload
from benchmarks.env import point_at_sandbox
from benchmarks.features import disable, enable
from benchmarks.phases import dagster_step_seconds, dlt_phases

RAW_STEP = "analytics_api_raw"
CHECKS_STEPS = "analytics_api_"  # one step per raw table: analytics_api_<table>_checks
MODELS_STEPS = "analytics_models_"  # one step per model: analytics_models_<name>


def _remember_the_sync_pipeline(rss_at_start: list[float]) -> list[Any]:
    """The ingest step's dlt pipelines, as it creates them (its working directory is removed
    with the run; the pipeline object, its trace included, stays in this process), and the
    process's resident memory when the first is created: the run's, before any request."""
    from analytics_assets.ingest import assets

    created: list[Any] = []
    make = assets.analytics_pipeline

    def remembered(*args: Any, **kwargs: Any) -> Any:
        if not created:
            rss_at_start.append(rss_kb(os.getpid()) / 1024)
        created.append(make(*args, **kwargs))
        return created[-1]

    assets.analytics_pipeline = remembered  # type: ignore[assignment]
    return created


def run_job() -> dict[str, Any]:
    """Run ``analytics_api_sync`` once; its wall time, step durations and dlt phases."""
    import dagster as dg

    from analytics_assets.definitions import defs

    rss_at_start: list[float] = []
    pipelines = _remember_the_sync_pipeline(rss_at_start)

    job = defs.resolve_job_def("analytics_api_sync")
    started = time.perf_counter()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    wall = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("analytics_api_sync failed")
    steps = dagster_step_seconds(result.all_events)
    trace = pipelines[0].last_trace
    rows = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    phases = dlt_phases(trace)
    phases["checks"] = sum(
        seconds
        for step, seconds in steps.items()
        if step.startswith(CHECKS_STEPS) and step.endswith("_checks")
    )
    models = sum(seconds for step, seconds in steps.items() if step.startswith(MODELS_STEPS))
    measured = {"rss_at_sync_start_mb": rss_at_start[0]} if rss_at_start else {}
    return {
        **measured,
        "job_s": wall,
        "wall_s": wall - models,  # the sync and its checks; the models are reported apart
        "models_s": models,
        "steps": steps,
        "phases": phases,
        "rows": {name: count for name, count in rows.items() if not name.startswith("_dlt")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--out", required=True)
    parser.add_argument("--disable", default="", help="speed-ups to switch off (features.py)")
    parser.add_argument("--enable", default="", help="experiments to switch on (features.py)")
    args = parser.parse_args()
    point_at_sandbox(args.base_url, args.workdir)
    disable([name for name in args.disable.split(",") if name])
    enable([name for name in args.enable.split(",") if name])
    started = time.perf_counter()
    import dagster  # noqa: F401

    import analytics_assets.definitions  # noqa: F401

    imported = time.perf_counter() - started
    write_payload(args.out, {"import_s": imported, **run_job()})


if __name__ == "__main__":
    main()
