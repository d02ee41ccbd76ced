"""Medians of the contenders' runs, the targets of issue 6, and the JSON / markdown files."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.child import ChildResult

PHASES = ("extract", "normalize", "load", "checks")
LABELS = {
    "floor": "floor (HTTP + JSON only)",
    "seed_default": "seed default (insert_values)",
    "project": "project (Dagster job)",
    "project_defaults": "project, dlt's merge pass and memory defaults (as before; 1 run)",
}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def contender_summary(runs: list[ChildResult]) -> dict[str, Any]:
    """Medians (and spread) of one contender's runs at one lead count."""
    walls = [run.payload["wall_s"] for run in runs]
    rows = sum(runs[0].payload.get("rows", {}).values())
    wall = statistics.median(walls)
    phases = {
        phase: _median(
            [run.payload["phases"][phase] for run in runs if phase in run.payload.get("phases", {})]
        )
        for phase in PHASES
    }
    summary: dict[str, Any] = {
        "runs": len(runs),
        "wall_s": wall,
        "wall_min_s": min(walls),
        "wall_max_s": max(walls),
        "process_wall_s": statistics.median(run.process_wall_s for run in runs),
        "rows": rows,
        "rows_per_s": rows / wall if wall else None,
        "peak_rss_mb": statistics.median(run.peak_rss_mb for run in runs),
        "peak_rss_max_mb": max(run.peak_rss_mb for run in runs),
        "peak_tree_rss_mb": max(run.peak_tree_rss_mb for run in runs),
        "phases": {name: value for name, value in phases.items() if value is not None},
    }
    for key in ("models_s", "import_s", "job_s", "rss_at_sync_start_mb"):
        values = [run.payload[key] for run in runs if key in run.payload]
        if values:
            summary[key] = statistics.median(values)
    steps = [run.payload["steps"] for run in runs if "steps" in run.payload]
    if steps:
        summary["steps"] = {key: statistics.median(s[key] for s in steps) for key in steps[0]}
    return summary


def summarize(leads: int, runs: dict[str, list[ChildResult]]) -> dict[str, Any]:
    """Per contender medians at ``leads``, and how they compare."""
    summary: dict[str, Any] = {"leads": leads}
    for name, contender_runs in runs.items():
        if contender_runs:
            summary[name] = contender_summary(contender_runs)
    project, floor = summary["project"], summary["floor"]
    summary["project_x_floor"] = project["wall_s"] / floor["wall_s"]
    # dlt's phases follow each other: whatever the extract costs, the run takes at least the
    # floor's reading plus its own normalize, load and checks.
    after_reading = sum(project["phases"].get(p, 0.0) for p in ("normalize", "load", "checks"))
    summary["floor_plus_after_reading_x_floor"] = 1 + after_reading / floor["wall_s"]
    summary["checks_share"] = project["phases"].get("checks", 0.0) / project["wall_s"]
    if "seed_default" in summary:
        summary["seed_default_x_project"] = summary["seed_default"]["wall_s"] / project["wall_s"]
    return summary


def _headline(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's required keys, for the largest lead count measured."""
    runs = results["runs"]
    largest = runs[max(runs, key=int)]
    with_seed = [runs[n] for n in sorted(runs, key=int) if "seed_default" in runs[n]]
    seed = with_seed[-1] if with_seed else None
    return {
        "leads": largest["leads"],
        "floor_s": largest["floor"]["wall_s"],
        "seed_default_s": seed["seed_default"]["wall_s"] if seed else None,
        "seed_default_leads": seed["leads"] if seed else None,
        "project_s": largest["project"]["wall_s"],
        "project_peak_rss_mb": largest["project"]["peak_rss_mb"],
        "checks_s": largest["project"]["phases"].get("checks"),
        "models_s": largest["project"].get("models_s"),
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 6 with the measured value; ``met`` is None when not measured."""
    runs = {int(n): run for n, run in results["runs"].items()}
    largest = runs[max(runs)]
    seeded = [runs[n] for n in sorted(runs) if "seed_default" in runs[n]]
    rss = {n: run["project"]["peak_rss_mb"] for n, run in runs.items()}
    out = [
        (
            "project <= 2.0 x floor (at 1M)",
            f"{largest['project_x_floor']:.2f} x at {largest['leads']:,} (the floor plus this "
            "run's normalize, load and checks alone: "
            f"{largest.get('floor_plus_after_reading_x_floor', float('nan')):.2f} x)",
            largest["project_x_floor"] <= 2.0,
        ),
        (
            "project >= 10 x faster than seed default (at 100k)",
            f"{seeded[-1]['seed_default_x_project']:.1f} x at {seeded[-1]['leads']:,}"
            if seeded
            else "not run",
            seeded[-1]["seed_default_x_project"] >= 10 if seeded else None,
        ),
        (
            "peak RSS <= 300 MB",
            ", ".join(f"{v:.0f} MB at {n:,}" for n, v in sorted(rss.items()))
            + _at_sync_start(runs),
            max(rss.values()) <= 300,
        ),
    ]
    if 100_000 in rss and 1_000_000 in rss:
        growth = rss[1_000_000] / rss[100_000] - 1
        out.append(("RSS at 1M within 10 % of 100k", f"{growth:+.0%}", growth <= 0.10))
    out.append(
        (
            "checks <= 10 % of project time (at 1M)",
            f"{largest['checks_share']:.1%} at {largest['leads']:,}",
            largest["checks_share"] <= 0.10,
        )
    )
    if "rate_limited" in results:
        out += _scenario_targets(results)
    return [{"target": t, "measured": m, "met": met} for t, m, met in out]


def _at_sync_start(runs: dict[int, dict[str, Any]]) -> str:
    """What the job held when its sync step began, before any request (if measured)."""
    held = [
        f"{run['project']['rss_at_sync_start_mb']:.0f} MB"
        for _, run in sorted(runs.items())
        if "rss_at_sync_start_mb" in run["project"]
    ]
    if not held:
        return ""
    return f" (held when the sync step began, before any request: {', '.join(held)})"


def _scenario_targets(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    rate = results["rate_limited"]["set"]
    latency = (results.get("latency") or {}).get("concurrent")
    return [
        *(
            [
                (
                    "latency scenario: >= 90 % of the allowed request rate, 0 x 429",
                    f"{latency['rate_share']:.1%}, {latency['status_429']} x 429 "
                    f"({latency['concurrency']} in flight)",
                    latency["rate_share"] >= 0.90 and latency["status_429"] == 0,
                )
            ]
            if latency
            else []
        ),
        (
            "rate-limited: >= 95 % of the allowed rate, 0 x 429",
            f"{rate['rate_fraction']:.1%}, {rate['status_429']} x 429",
            rate["rate_fraction"] >= 0.95 and rate["status_429"] == 0,
        ),
        (
            "incremental at 1 % change: <= 2 % of lead pages",
            f"{results['incremental']['page_fraction']:.2%}",
            results["incremental"]["page_fraction"] <= 0.02,
        ),
        *_request_targets(results),
        (
            "definitions import <= 1.5 s over dagster + dlt",
            f"{results['import']['overhead_s']:+.2f} s",
            results["import"]["overhead_s"] <= 1.5,
        ),
    ]


def _request_targets(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    if "requests" not in results:
        return []
    req = results["requests"]
    sync, sync_floor = sum(req["sync_requests"].values()), sum(req["sync_floor"].values())
    backfill = sum(req["backfill_requests"].values())
    backfill_floor = sum(req["backfill_floor"].values())
    return [
        (
            "full sync of every endpoint: requests = floor",
            f"{sync} (floor {sync_floor})",
            sync == sync_floor,
        ),
        (
            f"{req['days']}-day backfill, one run: requests = floor",
            f"{backfill} (floor {backfill_floor}; per day: {req['per_day_backfill_floor']})",
            backfill == backfill_floor,
        ),
    ]


def _request_lines(results: dict[str, Any]) -> list[str]:
    if "requests" not in results:
        return []
    req = results["requests"]
    lines = [
        "",
        f"## Requests: {req['leads']:,} leads, {req['campaigns']} campaigns, "
        f"{req['days']} days of activity",
        "",
        "| read | endpoint | requests | floor |",
        "|---|---|---|---|",
    ]
    for label, made, floor in (
        ("full sync", req["sync_requests"], req["sync_floor"]),
        (f"{req['days']}-day backfill", req["backfill_requests"], req["backfill_floor"]),
    ):
        for name in floor:
            lines.append(f"| {label} | {name} | {made.get(name, 0)} | {floor[name]} |")
        lines.append(f"| {label} | **all** | {sum(made.values())} | {sum(floor.values())} |")
    lines += [
        "",
        f"Floor: 100 records a page, one request sequence per campaign. Wall: full sync "
        f"{req['sync_s']:.1f} s, backfill {req['backfill_s']:.1f} s. Reading the "
        f"{req['days']} days one day at a time would take at least "
        f"{req['per_day_backfill_floor']:,} requests.",
    ]
    return lines


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown tables."""
    machine = results["machine"]
    lines = [
        f"# Benchmark `{results['plan']['name']}` — {machine['date']}",
        "",
        f"{machine['cpus']} CPUs; load average {machine['load_before']} before, "
        f"{machine['load_after']} after (others share the machine: expect noise). "
        f"Medians of {results['plan']['repeats']} runs (seed default: "
        f"{results['plan']['seed_repeats']}); each contender in its own process, the sandbox in "
        "another. Wall time excludes interpreter start and imports.",
    ]
    for leads, run in sorted(results["runs"].items(), key=lambda item: int(item[0])):
        lines += [
            "",
            f"## {int(leads):,} leads (+ {results['plan']['users']} users, "
            f"{results['plan']['campaigns']} campaigns)",
            "",
            "| contender | wall s (min–max) | × floor | rows/s | peak RSS MB | extract | "
            "normalize | load | checks | models |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name in ("floor", "seed_default", "project", "project_defaults"):
            if name not in run:
                continue
            c = run[name]
            p = c["phases"]
            label = LABELS[name]
            lines.append(
                f"| {label} | {_fmt(c['wall_s'])} ({_fmt(c['wall_min_s'])}–"
                f"{_fmt(c['wall_max_s'])}) | {_fmt(c['wall_s'] / run['floor']['wall_s'], 1)} | "
                f"{_fmt(c['rows_per_s'], 0)} | {_fmt(c['peak_rss_mb'], 0)} | "
                f"{_fmt(p.get('extract'))} | {_fmt(p.get('normalize'))} | {_fmt(p.get('load'))} | "
                f"{_fmt(p.get('checks'))} | {_fmt(c.get('models_s'))} |"
            )
        sandbox = run["sandbox"]
        lines += [
            "",
            f"Sandbox: ready in {sandbox['startup_s']:.1f} s, "
            f"{sandbox['rss_mb']:.0f} MB RSS (not counted above).",
        ]
        if "same_rows_as_seed_default" in run:
            same = run["same_rows_as_seed_default"]
            lines.append(
                f"Project and seed default loaded the same rows: "
                f"{', '.join(f'{t} {ok}' for t, ok in same.items())}."
            )
    if "rate_limited" in results:
        lines += _scenario_lines(results)
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for row in results["targets"]:
        met = {True: "yes", False: "**no**", None: "–"}[row["met"]]
        lines.append(f"| {row['target']} | {row['measured']} | {met} |")
    return "\n".join(lines) + "\n"


def _latency_lines(latency: dict[str, Any] | None) -> list[str]:
    if not latency:
        return []
    first = latency["concurrent"]
    lines = [
        "",
        f"## Latency: {first['latency_s'] * 1000:.0f} ms ± 20 % per request, "
        f"{first['limit']} requests per {first['window_s']:g} s, "
        f"{first['leads']:,} leads, {first['campaigns']} campaigns",
        "",
        "| ANALYTICS_API_MAX_CONCURRENCY | requests | most in flight | 429s | "
        "physical limit s (requests ÷ allowed rate) | requests' span s | job wall s | "
        "share of the allowed rate (span) | (job wall) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in (latency["concurrent"], latency["one_at_a_time"]):
        lines.append(
            f"| {row['concurrency']} | {row['requests']} | {row['max_in_flight']} | "
            f"{row['status_429']} | {row['physical_limit_s']:.1f} | {row['span_s']:.1f} | "
            f"{row['wall_s']:.1f} | {row['rate_share']:.1%} | {row['wall_share']:.1%} |"
        )
    lines += [
        "",
        "Share of the allowed rate: requests per second while the sync made them (first to "
        "last request), against the limit's; (job wall): the physical limit against the whole "
        "job's wall time, its start, checks and models included. A sync of fewer requests than "
        "one window allows may pass 100 %: the window admits them in a burst.",
    ]
    return lines


def _scenario_lines(results: dict[str, Any]) -> list[str]:
    rate, inc, imp = results["rate_limited"], results["incremental"], results["import"]
    plan = results["plan"]["rate"]
    lines = [
        "",
        f"## Rate-limited: {plan['limit']} requests per {plan['window_s']:g} s, "
        f"{plan['leads']:,} leads",
        "",
        "| ANALYTICS_API_REQUESTS_PER_MINUTE | requests | 429s | wall s | "
        "achieved / allowed rate |",
        "|---|---|---|---|---|",
    ]
    for row in rate.values():
        rpm = "unset" if row["requests_per_minute"] is None else f"{row['requests_per_minute']:g}"
        lines.append(
            f"| {rpm} | {row['requests']} | {row['status_429']} | "
            f"{row['wall_s']:.1f} | {row['rate_fraction']:.1%} |"
        )
    lines += _latency_lines(results.get("latency"))
    lines += [
        "",
        f"## Incremental: {inc['changed']:,} of {inc['leads']:,} leads changed",
        "",
        f"Lead pages: {inc['incremental_lead_pages']} of {inc['full_lead_pages']} "
        f"({inc['page_fraction']:.2%}); sync {inc['incremental_s']:.1f} s "
        f"(full: {inc['full_s']:.1f} s).",
        "",
        f"## Import time (fresh interpreters, medians of {imp['repeats']})",
        "",
        f"`import dagster, dlt`: {imp['bare_s']:.2f} s; `import analytics_assets.definitions`: "
        f"{imp['definitions_s']:.2f} s; difference {imp['overhead_s']:+.2f} s.",
        *_request_lines(results),
    ]
    return lines


def write_results(results: dict[str, Any], directory: Path, name: str) -> tuple[Path, Path]:
    """Write ``latest.json`` / ``latest.md`` and ``<name>.json`` / ``<name>.md``."""
    results["machine"] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "load_before": results.get("load_before"),
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    results["targets"] = targets(results)
    document = {**_headline(results), **results}
    text = json.dumps(document, indent=2, default=str)
    page = markdown(document)
    directory.mkdir(parents=True, exist_ok=True)
    for stem in ("latest", name):
        (directory / f"{stem}.json").write_text(text)
        (directory / f"{stem}.md").write_text(page)
    return directory / "latest.json", directory / "latest.md"
