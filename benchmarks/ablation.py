"""What each speed-up bought: the project's job with them switched on one at a time.

``python -m benchmarks.ablation [--leads N] [--repeats R]``: step 0 has every speed-up of
``features.FEATURES`` off (the project as it was: the seed's config on parquet), step k has
the first k on; the steps after those add each of ``features.EXPERIMENTS`` (tried, not kept)
to all of them. Repeats are interleaved across steps so that drifting machine load spreads
evenly. Writes ``results/ablation.json`` and ``results/ablation.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.child import ChildResult, run_child
from benchmarks.features import EXPERIMENTS, FEATURES
from benchmarks.run import LOGS, RESULTS, _log
from benchmarks.sandbox_proc import sandbox_process


def _step(results: list[ChildResult]) -> dict[str, Any]:
    def median(get: Any) -> float:
        return statistics.median(get(run) for run in results)

    return {
        "wall_s": median(lambda r: r.payload["wall_s"]),
        "wall_min_s": min(r.payload["wall_s"] for r in results),
        "walls_s": [r.payload["wall_s"] for r in results],
        "cpu_s": median(lambda r: r.cpu_s),
        "peak_rss_mb": median(lambda r: r.peak_rss_mb),
        **{
            phase: median(lambda r, p=phase: r.payload["phases"].get(p, 0.0))
            for phase in ("extract", "normalize", "load", "checks")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs="*", help="only these steps (0 = none on)")
    parser.add_argument("--name", default="ablation", help="results/<name>.{json,md}")
    args = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    configs = [(list(FEATURES[:k]), "") for k in range(len(FEATURES) + 1)]
    configs += [(list(FEATURES) + [name], name) for name in EXPERIMENTS]
    steps = args.steps if args.steps else range(len(configs))
    runs: dict[int, list[ChildResult]] = {k: [] for k in steps}
    with sandbox_process(args.leads) as sandbox, tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for k in runs:
                enabled, experiment = configs[k]
                off = ",".join(name for name in FEATURES if name not in enabled)
                workdir = Path(tmp) / f"{k}-{repeat}"
                result = run_child(
                    "project",
                    "benchmarks.project",
                    [
                        "--base-url",
                        sandbox.base_url,
                        "--workdir",
                        str(workdir),
                        "--disable",
                        off,
                        "--enable",
                        experiment,
                    ],
                    LOGS / "ablation.log",
                )
                if result.exit_code:
                    raise RuntimeError(f"step {k} failed; see {LOGS / 'ablation.log'}")
                runs[k].append(result)
                _log(f"step {k} ({'+'.join(enabled) or 'none'}): {result.payload['wall_s']:.2f} s")
    steps = [{"enabled": configs[k][0], **_step(runs[k])} for k in runs]
    document = {
        "leads": args.leads,
        "repeats": args.repeats,
        "load_after": os.getloadavg(),
        "steps": steps,
    }
    (RESULTS / f"{args.name}.json").write_text(json.dumps(document, indent=2))
    (RESULTS / f"{args.name}.md").write_text(markdown(document))
    print(markdown(document))


def markdown(document: dict[str, Any]) -> str:
    """The ablation as a markdown table."""
    lines = [
        f"Project job at {document['leads']:,} leads, medians of {document['repeats']} "
        "interleaved runs (and the fastest run: the least disturbed by the machine's other "
        "load); each row adds speed-ups to the row above. CPU s: the child process's user + "
        "system time, imports included (steadier than wall time on a shared machine).",
        "",
        "| added | wall s | fastest s | Δ fastest s | CPU s | extract | normalize | load | "
        "checks | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    previous = None
    enabled: list[str] = []
    for step in document["steps"]:
        new = [name for name in step["enabled"] if name not in enabled]
        enabled = step["enabled"]
        added = " + ".join(new) if new else "(none: seed config + parquet)"
        delta = "" if previous is None else f"{step['wall_min_s'] - previous:+.2f}"
        lines.append(
            f"| {added} | {step['wall_s']:.2f} | {step['wall_min_s']:.2f} | {delta} | "
            f"{step['cpu_s']:.1f} | {step['extract']:.2f} | "
            f"{step['normalize']:.2f} | {step['load']:.2f} | {step['checks']:.2f} | "
            f"{step['peak_rss_mb']:.0f} |"
        )
        previous = step["wall_min_s"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
