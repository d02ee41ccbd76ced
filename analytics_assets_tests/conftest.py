"""Shared fixtures: a sandbox API on loopback, a fresh DuckDB file and dlt dir per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.settings import PROJECT_DIR

TEST_KEY = "test-key-5f0c2a9e"  # distinctive, so leak checks can search for it
SETTINGS_VARIABLES = (
    "ANALYTICS_API_BASE_URL",
    "ANALYTICS_API_KEY",
    "ANALYTICS_API_KEY_HEADER",
    "ANALYTICS_DUCKDB_PATH",
    "ANALYTICS_DLT_DIR",
    "API_KEY",  # dlt's own lookup of the seed's dlt.secrets["api_key"]
)


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module loads the definitions: Dagster step retries wait 0.1 s, not 60 s."""
    os.environ["ANALYTICS_RETRY_DELAY_S"] = "0.1"


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throwaway DAGSTER_HOME with the project's dagster.yaml (telemetry off)."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own DuckDB file and dlt working dir, and no settings from outside."""
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(path))
    monkeypatch.setenv("ANALYTICS_DLT_DIR", str(tmp_path / "dlt"))
    return path


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """The default sandbox (25 lead pages), next_page as absolute URLs."""
    with SandboxServer(SandboxConfig(api_key=TEST_KEY)) as server:
        yield server


@pytest.fixture(scope="session")
def token_sandbox() -> Iterator[SandboxServer]:
    """The default sandbox with next_page as opaque tokens."""
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, page_mode="token")) as server:
        yield server


def use_api(
    monkeypatch: pytest.MonkeyPatch, server: SandboxServer, key: str | None = TEST_KEY
) -> None:
    """Point the settings at ``server``; ``key=None`` leaves the key unset."""
    monkeypatch.setenv("ANALYTICS_API_BASE_URL", server.base_url)
    monkeypatch.setenv("ANALYTICS_API_KEY_HEADER", server.config.key_header)
    if key is not None:
        monkeypatch.setenv("ANALYTICS_API_KEY", key)
    server.clear_log()


def run_sync(instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    """Execute the ``analytics_api_sync`` job in process."""
    from analytics_assets.definitions import defs

    job = defs.resolve_job_def("analytics_api_sync")
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def query(path: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` against the DuckDB file at ``path``, opened read-only."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def step_failure(result: dg.ExecuteInProcessResult) -> str:
    """The failure message(s) of the failed steps of ``result``."""
    return "\n".join(
        str(event.step_failure_data.error.message)
        + "\n"
        + str(
            event.step_failure_data.user_failure_data.description
            if event.step_failure_data.user_failure_data
            else ""
        )
        for event in result.all_events
        if event.is_step_failure
    )
