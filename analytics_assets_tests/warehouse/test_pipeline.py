"""Private dlt working directories: one per run, removed after, and those of dead runs too."""

from __future__ import annotations

import os
import time
from pathlib import Path

from analytics_assets.settings import Settings
from analytics_assets.warehouse.pipeline import STALE_WORKDIR_S, private_workdir


def test_a_workdir_is_removed_after_use_and_a_dead_runs_after_two_days(tmp_path: Path) -> None:
    settings = Settings(dlt_dir=tmp_path)
    dead, recent = tmp_path / "runs" / "killed-run", tmp_path / "runs" / "running-run"
    for path in (dead, recent):
        (path / "analytics_api").mkdir(parents=True)
    old = time.time() - STALE_WORKDIR_S - 60
    os.utime(dead, (old, old))

    with private_workdir(settings, "this-run") as workdir:
        assert workdir == tmp_path / "runs" / "this-run" and workdir.is_dir()
        assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
            "running-run",
            "this-run",
        ]

    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["running-run"]
