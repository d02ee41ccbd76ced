"""Shared fixtures: a sandbox API on loopback, a fresh DuckDB file and dlt dir per test.

Tests point runs at the sandbox and the test's warehouse by swapping the code location's
resources (``RESOURCES``, filled by ``warehouse``, ``use_api`` and ``configure``), never through
the environment; only processes a test starts get them as variables (``process_env``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from analytics_assets.api.resource import AnalyticsApiResource
from analytics_assets.definitions import build_definitions
from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.settings import (
    PROJECT_DIR,
    AutomationSettings,
    EnvBackedResource,
    Settings,
    run_environ,
    settings_from,
)
from analytics_assets.warehouse.resource import WarehouseResource

TEST_KEY = "test-key-5f0c2a9e"  # distinctive, so leak checks can search for it
RESOURCE_CLASSES: dict[str, type[EnvBackedResource]] = {
    "api": AnalyticsApiResource,
    "warehouse": WarehouseResource,
}
SETTINGS_VARIABLES = (
    *(var for cls in RESOURCE_CLASSES.values() for var in cls.VARIABLES.values()),
    "API_KEY",  # dlt's own lookup of the seed's dlt.secrets["api_key"]
)
TEST_AUTOMATION = AutomationSettings(retry_delay_s=0.1)
"""The definitions' settings in tests: Dagster step retries wait 0.1 s, not 60 s."""
RESOURCES: dict[str, EnvBackedResource] = {}
"""This test's resources, in place of the code location's: see the module docstring."""


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throwaway DAGSTER_HOME with the project's dagster.yaml (telemetry off)."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own DuckDB file and dlt working dir, and no settings from outside."""
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "warehouse.duckdb"
    RESOURCES.clear()
    RESOURCES["api"] = AnalyticsApiResource()
    RESOURCES["warehouse"] = WarehouseResource(duckdb_path=str(path), dlt_dir=str(tmp_path / "dlt"))
    yield path
    RESOURCES.clear()


def configure(**variables: str) -> None:
    """Set documented variables for this test's runs, as the resource fields they stand for."""
    for key, cls in RESOURCE_CLASSES.items():
        fields = {
            name: variables.pop(var) for name, var in cls.VARIABLES.items() if var in variables
        }
        if fields:
            current = RESOURCES.get(key) or cls()
            RESOURCES[key] = cls(**{**{n: getattr(current, n) for n in cls.VARIABLES}, **fields})
    assert not variables, f"not variables of the resources: {sorted(variables)}"


def settings_for_test() -> Settings:
    """The settings this test's runs would use (its resources over the environment)."""
    return settings_from(*RESOURCES.values())


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a process a test starts: its resources as the variables they are."""
    return {**run_environ(*RESOURCES.values()), **extra}


def definitions_for_test() -> dg.Definitions:
    """The code location's definitions with this test's resources and fast step retries."""
    return build_definitions(TEST_AUTOMATION, RESOURCES)


Serve = Callable[..., SandboxServer]
"""``serve(**config)``: a sandbox with those SandboxConfig fields (and the test key), this test's
runs pointed at it; it stops with the test."""


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start sandboxes for this test (see ``Serve``)."""
    with ExitStack() as stack:

        def start(**config: Any) -> SandboxServer:
            server = stack.enter_context(SandboxServer(SandboxConfig(api_key=TEST_KEY, **config)))
            use_api(server)
            return server

        yield start


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


def use_api(server: SandboxServer, key: str | None = TEST_KEY) -> None:
    """Point this test's runs at ``server``; ``key=None`` leaves the key unset."""
    configure(
        ANALYTICS_API_BASE_URL=server.base_url,
        ANALYTICS_API_KEY_HEADER=server.config.key_header,
        **({"ANALYTICS_API_KEY": key} if key is not None else {}),
    )
    server.clear_log()


def run_sync(
    instance: dg.DagsterInstance | None = None, **run: object
) -> dg.ExecuteInProcessResult:
    """Execute the ``analytics_api_sync`` job in process, with this test's resources."""
    job = definitions_for_test().resolve_job_def("analytics_api_sync")
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False, **run
    )


def query(path: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` against the DuckDB file at ``path``, opened read-only."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def materialization_metadata(
    result: dg.ExecuteInProcessResult,
) -> dict[dg.AssetKey, dict[str, Any]]:
    """The metadata values of each asset ``result`` materialized, by asset key."""
    return {
        event.asset_key: {
            name: value.value
            for name, value in event.event_specific_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


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
