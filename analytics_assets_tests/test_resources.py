"""The API and the warehouse as Dagster resources: environment variables, or values of their own."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.api.resource import AnalyticsApiResource
from analytics_assets.sandbox import SandboxServer
from analytics_assets.schema import SYNC_TABLES
from analytics_assets.settings import EnvBackedResource
from analytics_assets.warehouse.resource import WarehouseResource
from analytics_assets_tests.conftest import RESOURCES, TEST_KEY, query, run_sync, step_failure
from analytics_assets_tests.expected import expected_rows, select_declared

SETTINGS_VARIABLES = (
    *AnalyticsApiResource.VARIABLES.values(),
    *WarehouseResource.VARIABLES.values(),
)


def _sync(resources: dict[str, EnvBackedResource], **run: object) -> dg.ExecuteInProcessResult:
    """analytics_api_sync with exactly ``resources`` for this test's API and warehouse."""
    RESOURCES.update(resources)
    return run_sync(**run)


@pytest.fixture
def no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_variables_set_when_the_code_location_loads_become_env_vars() -> None:
    api = AnalyticsApiResource.from_env(
        {"ANALYTICS_API_BASE_URL": "https://api.persistiq.com/v1/", "ANALYTICS_API_KEY": "k"}
    )

    assert api.base_url == dg.EnvVar("ANALYTICS_API_BASE_URL")
    assert api.api_key == dg.EnvVar("ANALYTICS_API_KEY")  # its name is shown, never its value
    assert api.timeout_s is None  # unset: read when a run starts
    assert set(AnalyticsApiResource.VARIABLES.values()) >= {
        "ANALYTICS_API_KEY",
        "ANALYTICS_API_TIMEOUT_S",
        "ANALYTICS_LEADS_OVERLAP_S",
    }


def test_a_field_stands_for_its_variable() -> None:
    api = AnalyticsApiResource(base_url="http://127.0.0.1:1/v1/", timeout_s="5")

    assert api.environ() == {
        "ANALYTICS_API_BASE_URL": "http://127.0.0.1:1/v1/",
        "ANALYTICS_API_TIMEOUT_S": "5",
    }


def test_the_sandbox_is_a_configuration_of_the_resources_not_of_the_environment(
    sandbox: SandboxServer, tmp_path: Path, no_settings_in_the_environment: None
) -> None:
    path = tmp_path / "resource.duckdb"
    resources = {
        "api": AnalyticsApiResource(
            base_url=sandbox.base_url, key_header=sandbox.config.key_header, api_key=TEST_KEY
        ),
        "warehouse": WarehouseResource(duckdb_path=str(path), dlt_dir=str(tmp_path / "dlt")),
    }

    result = _sync(resources)

    assert result.success, step_failure(result)
    for table in SYNC_TABLES:  # loaded, checked and modeled in the resource's file
        assert set(query(path, select_declared(table))) == expected_rows(sandbox, table)
    assert query(path, "SELECT COUNT(*) FROM analytics_models.owner_pipeline") == [(25,)]


def test_the_launchpad_overrides_a_field_for_one_run_and_it_is_checked(
    sandbox: SandboxServer, tmp_path: Path, no_settings_in_the_environment: None
) -> None:
    resources = {
        "api": AnalyticsApiResource(
            base_url=sandbox.base_url, key_header=sandbox.config.key_header, api_key=TEST_KEY
        ),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb")),
    }
    sandbox.clear_log()

    result = _sync(resources, run_config={"resources": {"api": {"config": {"timeout_s": "0"}}}})

    assert not result.success
    assert "ANALYTICS_API_TIMEOUT_S must be more than 0 and at most 86400, got '0'" in (
        step_failure(result)
    )
    assert sandbox.request_log == []


def test_a_key_variable_unset_at_launch_fails_the_run_at_once_naming_it(
    tmp_path: Path, no_settings_in_the_environment: None
) -> None:
    resources = {
        "api": AnalyticsApiResource(api_key=dg.EnvVar("ANALYTICS_API_KEY")),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb")),
    }

    with pytest.raises(dg.DagsterInvalidConfigError, match="ANALYTICS_API_KEY"):
        _sync(resources)


def test_an_env_var_not_resolved_yet_is_left_to_the_environment() -> None:
    api = AnalyticsApiResource(base_url=dg.EnvVar("ANALYTICS_API_BASE_URL"), timeout_s="5")

    assert api.environ() == {"ANALYTICS_API_TIMEOUT_S": "5"}
