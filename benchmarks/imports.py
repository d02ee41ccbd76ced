"""Import time of the code location against bare ``import dagster, dlt``, fresh interpreters."""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any

SNIPPET = (
    "import time; started = time.perf_counter(); import {modules}; "
    "print(time.perf_counter() - started)"
)
BARE = "dagster, dlt"
DEFINITIONS = "analytics_assets.definitions"


def import_seconds(modules: str) -> float:
    """Seconds one fresh interpreter takes to import ``modules``."""
    output = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(modules=modules)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def measure(repeats: int = 5) -> dict[str, Any]:
    """Medians of ``repeats`` alternating runs of each, and their difference."""
    bare: list[float] = []
    definitions: list[float] = []
    for _ in range(repeats):
        bare.append(import_seconds(BARE))
        definitions.append(import_seconds(DEFINITIONS))
    return {
        "repeats": repeats,
        "bare_s": statistics.median(bare),
        "definitions_s": statistics.median(definitions),
        "overhead_s": statistics.median(definitions) - statistics.median(bare),
        "bare_all_s": bare,
        "definitions_all_s": definitions,
    }
