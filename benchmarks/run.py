"""``make bench`` / ``make bench-quick``: the sync against the floor and the seed's defaults.

``python -m benchmarks.run --plan quick|full [--leads N ...]``. Every contender runs in its own
child process against the sandbox in another process; results go to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from benchmarks import imports
from benchmarks.child import ChildResult, run_child
from benchmarks.equivalence import same_rows
from benchmarks.plans import PLANS, Plan
from benchmarks.report import summarize, write_results
from benchmarks.sandbox_proc import sandbox_process

RESULTS = Path(__file__).parent / "results"
LOGS = RESULTS / "logs"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _contender(
    name: str,
    base_url: str,
    workdir: Path | None,
    env: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> ChildResult:
    args = ["--base-url", base_url, *(extra or [])]
    if workdir is not None:
        args += ["--workdir", str(workdir)]
    result = run_child(name, f"benchmarks.{name}", args, LOGS / f"{name}.log", env)
    if result.exit_code != 0:
        raise RuntimeError(f"{name} failed (exit {result.exit_code}); see {LOGS / name}.log")
    _log(f"  {name}: {result.payload.get('wall_s', 0):.2f} s, peak RSS {result.peak_rss_mb:.0f} MB")
    return result


def measure_leads(plan: Plan, leads: int, scratch: Path, seed: bool = True) -> dict[str, Any]:
    """Floor, seed default (up to ``plan.seed_max_leads``) and project at ``leads`` leads."""
    runs: dict[str, list[ChildResult]] = {
        "floor": [],
        "project": [],
        "project_defaults": [],
        "seed_default": [],
    }
    with sandbox_process(leads, plan.users, plan.campaigns) as sandbox:
        _log(
            f"{leads:,} leads: sandbox ready in {sandbox.startup_s:.1f} s, "
            f"RSS {sandbox.rss_mb():.0f} MB"
        )
        sandbox_rss = sandbox.rss_mb()
        for repeat in range(plan.repeats):
            runs["floor"].append(_contender("floor", sandbox.base_url, None))
            workdir = scratch / f"project-{leads}-{repeat}"
            runs["project"].append(_contender("project", sandbox.base_url, workdir))
        if plan.compare_memory_defaults:
            workdir = scratch / f"defaults-{leads}"
            runs["project_defaults"].append(
                _contender(
                    "project",
                    sandbox.base_url,
                    workdir,
                    extra=["--disable", "no_dedup_pass,memory_settings"],
                )
            )
        if seed and leads <= plan.seed_max_leads:
            for repeat in range(plan.seed_repeats):
                workdir = scratch / f"seed-{leads}-{repeat}"
                runs["seed_default"].append(_contender("seed_default", sandbox.base_url, workdir))
    summary = summarize(leads, runs)
    summary["sandbox"] = {"startup_s": sandbox.startup_s, "rss_mb": sandbox_rss}
    if runs["seed_default"]:
        summary["same_rows_as_seed_default"] = same_rows(
            scratch / f"project-{leads}-0" / "warehouse.duckdb",
            scratch / f"seed-{leads}-0" / "seed.duckdb",
        )
    return summary


def _scenario(name: str, args: list[str]) -> dict[str, Any]:
    result = run_child(name, "benchmarks.scenarios", args, LOGS / f"{name}.log")
    if result.exit_code != 0:
        raise RuntimeError(f"{name} failed; see {LOGS / name}.log")
    return {**result.payload, "peak_rss_mb": result.peak_rss_mb}


def _options(**values: object) -> list[str]:
    """``--name value`` for each of ``values`` (``max_share`` -> ``--max-share``)."""
    return [part for k, v in values.items() for part in (f"--{k.replace('_', '-')}", str(v))]


def measure_rate_limit(plan: Plan) -> dict[str, Any]:
    """The rate-limited sync without and with ``ANALYTICS_API_REQUESTS_PER_MINUTE``."""
    rate = plan.rate
    base = ["rate-limit", *_options(leads=rate.leads, limit=rate.limit, window=rate.window_s)]
    results = {}
    for label, extra in (("unset", []), ("set", _options(rpm=rate.requests_per_minute))):
        results[label] = _scenario("rate_limit", base + extra)
        _log(
            f"rate limit, requests per minute {label}: "
            f"{results[label]['rate_fraction']:.1%} of the allowed rate, "
            f"{results[label]['status_429']} x 429"
        )
    return results


def measure_latency(plan: Plan) -> dict[str, Any]:
    """A full sync at a real API's latency and rate limit, with the default number of requests
    in flight and with one at a time, each against the rate's physical limit."""
    latency = plan.latency
    results = {}
    for label, concurrency in (("concurrent", latency.concurrency), ("one_at_a_time", 1)):
        args = [
            "latency",
            *_options(
                leads=latency.leads,
                campaigns=latency.campaigns,
                latency=latency.latency_s,
                limit=latency.limit,
                window=latency.window_s,
                concurrency=concurrency,
            ),
        ]
        result = results[label] = _scenario("latency", args)
        _log(
            f"latency {latency.latency_s * 1000:.0f} ms, {concurrency} in flight: "
            f"{result['requests']} requests in {result['wall_s']:.1f} s, "
            f"{result['rate_share']:.1%} of the allowed rate, {result['status_429']} x 429"
        )
    return results


def measure_incremental(plan: Plan) -> dict[str, Any]:
    """Lead pages an incremental sync reads after 1 % of the leads changed."""
    result = _scenario("incremental", ["incremental", *_options(leads=plan.incremental_leads)])
    _log(
        f"incremental: {result['incremental_lead_pages']} of {result['full_lead_pages']} "
        f"lead pages ({result['page_fraction']:.2%})"
    )
    return result


def measure_requests(plan: Plan) -> dict[str, Any]:
    """Requests of a full sync and of a backfill (one run), beside the floor."""
    args = [
        "requests",
        *_options(
            leads=plan.requests_leads,
            campaigns=plan.requests_campaigns,
            days=plan.backfill_days,
        ),
    ]
    result = _scenario("requests", args)
    _log(
        f"requests: full sync {sum(result['sync_requests'].values())} "
        f"(floor {sum(result['sync_floor'].values())}), {plan.backfill_days}-day backfill "
        f"{sum(result['backfill_requests'].values())} "
        f"(floor {sum(result['backfill_floor'].values())})"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=sorted(PLANS), default="quick")
    parser.add_argument("--leads", type=int, nargs="*", help="override the plan's lead counts")
    parser.add_argument("--repeats", type=int, help="override the plan's repeats")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed default contender")
    parser.add_argument(
        "--no-scenarios",
        action="store_true",
        help="skip the rate-limited, incremental and import measurements",
    )
    args = parser.parse_args()
    plan = PLANS[args.plan]
    if args.leads:
        plan = replace(plan, leads=tuple(args.leads))
    if args.repeats:
        plan = replace(plan, repeats=args.repeats)
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        results: dict[str, Any] = {
            "plan": asdict(plan),
            "runs": {},
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
        for leads in plan.leads:
            results["runs"][str(leads)] = measure_leads(plan, leads, scratch, not args.no_seed)
            shutil.rmtree(scratch)
            scratch.mkdir()
        if not args.no_scenarios:
            results["rate_limited"] = measure_rate_limit(plan)
            results["latency"] = measure_latency(plan)
            results["incremental"] = measure_incremental(plan)
            results["requests"] = measure_requests(plan)
            results["import"] = imports.measure(plan.import_repeats)
            _log(f"import: definitions {results['import']['overhead_s']:+.2f} s over dagster + dlt")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["bench_s"] = time.perf_counter() - started
    json_path, md_path = write_results(results, RESULTS, plan.name)
    _log(f"done in {results['bench_s']:.0f} s: {json_path}, {md_path}")
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
