"""Two runs launched at once both succeed: the warehouse pool makes the second one wait.

Without the pool limit the second run's steps overlap the first's and fail with DuckDB's "Could
not set lock"; with it, no two writer steps overlap. The pool hands over when a step reports
success, moments before its process exits and DuckDB lets go of the file: each step also waits
for the file (``warehouse.wait_for_duckdb_file``), so no lock error is logged at all.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from analytics_assets.definitions import defs
from analytics_assets.sandbox import Delay, SandboxConfig, SandboxServer
from analytics_assets.schema import SYNC_TABLES
from analytics_assets.settings import PROJECT_DIR
from analytics_assets_tests.conftest import TEST_KEY, process_env, query, use_api
from analytics_assets_tests.expected import expected_rows, select_declared

WRITERS = tuple(node.name for node in defs.resolve_job_def("analytics_api_sync").graph.nodes)
"""Every step of the sync writes or reads the warehouse: the raw step, the check steps of each
table and the model steps, all in the analytics_warehouse pool."""


def _step_windows(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    starts: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key not in WRITERS:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            windows[event.step_key] = (starts[event.step_key], entry.timestamp)
    return windows


def test_two_runs_at_once_both_succeed_one_writer_at_a_time(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    use_api(sandbox)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # create the instance's storage first, as `dagster dev` would: not a race of two
    env = process_env(DAGSTER_HOME=str(home))
    command = [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "execute",
        "-m",
        "analytics_assets.definitions",
        "-j",
        "analytics_api_sync",
    ]

    children = [
        subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=300)[0] for child in children]

    assert [child.returncode for child in children] == [0, 0], outputs
    assert not [output for output in outputs if "Could not set lock" in output]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
        windows = [
            window for run in runs for window in _step_windows(instance, run.run_id).values()
        ]
    assert len(windows) == 2 * len(WRITERS)
    windows.sort()
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        assert start >= end  # no two warehouse writers ever overlapped


def test_two_runs_outside_the_pool_sharing_the_dlt_dir_both_succeed(tmp_path: Path) -> None:
    """Two instances (so no shared pool), one ANALYTICS_DLT_DIR, both runs mid-extract at once.

    Each run works in a dlt directory of its own: before, each dropped the shared pipeline
    directory as it started and the other failed with FileNotFoundError or FileExistsError.
    """
    config = SandboxConfig(api_key=TEST_KEY, leads=500)
    with SandboxServer(config) as server:
        use_api(server)
        server.inject("leads", Delay(1.5), page=2, times=2)  # both runs stall in the extract
        shared_dlt = tmp_path / "shared-dlt"
        children = []
        for name in ("a", "b"):
            home = tmp_path / f"home-{name}"
            home.mkdir()
            shutil.copy(PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
            env = process_env(
                DAGSTER_HOME=str(home),
                ANALYTICS_DLT_DIR=str(shared_dlt),
                ANALYTICS_DUCKDB_PATH=str(tmp_path / f"{name}.duckdb"),
            )
            children.append(
                subprocess.Popen(
                    [sys.executable, "-c", RUN_SYNC],
                    cwd=PROJECT_DIR,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [child.communicate(timeout=300)[0] for child in children]
        stalls = [e.time for e in server.request_log if e.fault == "Delay"]

    assert [child.returncode for child in children] == [0, 0], outputs
    assert len(stalls) == 2 and abs(stalls[0] - stalls[1]) < 1.5  # the extracts overlapped
    for name in ("a", "b"):
        for table in SYNC_TABLES:
            rows = set(query(tmp_path / f"{name}.duckdb", select_declared(table)))
            assert rows == expected_rows(server, table)
    assert list((shared_dlt / "runs").iterdir()) == []  # each run removed its own directory


RUN_SYNC = (
    "import sys; from analytics_assets_tests.conftest import run_sync; "
    "result = run_sync(); sys.exit(0 if result.success else 1)"
)
