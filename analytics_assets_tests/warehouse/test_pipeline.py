"""Private dlt working directories: one per run, removed after, and those of dead runs too."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics_assets.settings import Settings, SettingsError
from analytics_assets.warehouse.pipeline import DUCKDB_CONFIG, STALE_WORKDIR_S, private_workdir
from analytics_assets.warehouse.sql import open_warehouse
from analytics_assets_tests.conftest import configure, settings_for_test


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


def _duckdb_settings() -> tuple[object, ...]:
    with open_warehouse(settings_for_test()) as warehouse:
        return warehouse.rows(
            "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order')"
        )[0]


def test_warehouse_sessions_cap_duckdb_memory_unless_dlt_config_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DUCKDB_CONFIG["memory_limit"] == "100MB"
    assert _duckdb_settings() == ("95.3 MiB", False)  # DuckDB shows 100 MB in MiB

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "1GB"}')

    assert _duckdb_settings() == ("953.6 MiB", True)  # all of DUCKDB_CONFIG replaced


@pytest.mark.parametrize(("variable", "backend"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_arrow_allocates_through_the_system_allocator_unless_told_otherwise(
    variable: str | None, backend: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if variable:
        env["ARROW_DEFAULT_MEMORY_POOL"] = variable
    code = "import analytics_assets, pyarrow; print(pyarrow.default_memory_pool().backend_name)"

    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)

    assert done.stdout.strip() == backend, done.stderr


@pytest.mark.parametrize(
    ("environ", "first_line"),
    [
        (
            {"ANALYTICS_DESTINATION": "nosuchwarehouse"},
            "the warehouse destination 'nosuchwarehouse' (ANALYTICS_DESTINATION) is not usable: "
            "Destination 'nosuchwarehouse'",
        ),
        (
            {
                "ANALYTICS_DESTINATION": "postgres",
                "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://analytics@127.0.0.1:1/x",
            },
            "the warehouse destination 'postgres' (ANALYTICS_DESTINATION) is not usable: Missing "
            "1 field(s) in configuration `PostgresClientConfiguration`: `credentials`",
        ),
    ],
)
def test_a_check_or_model_session_names_a_bad_destination_setting(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], first_line: str
) -> None:
    """Check and model steps resolve the destination once, in their first query's session:
    a bad setting still fails as a SettingsError saying what to fix, and nothing waits."""
    credentials = "DESTINATION__POSTGRES__CREDENTIALS"  # dlt's own configuration: a variable
    if credentials in environ:
        monkeypatch.setenv(credentials, environ[credentials])
    configure(**{name: value for name, value in environ.items() if name != credentials})

    started = time.monotonic()
    with pytest.raises(SettingsError) as raised, open_warehouse(settings_for_test()):
        pass

    assert str(raised.value).startswith(first_line)
    assert time.monotonic() - started < 5  # no wait for a warehouse lock
