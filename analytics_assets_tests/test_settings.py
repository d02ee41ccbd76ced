"""Settings: read lazily, relative paths anchored in the project, the key kept out of reprs."""

from pathlib import Path

import pytest

from analytics_assets.settings import (
    PROJECT_DIR,
    MissingApiKeyError,
    Settings,
    SettingsError,
    load_settings,
)


def test_defaults_are_the_seeds() -> None:
    settings = load_settings({})

    assert settings.base_url == "https://api.example.com/v1/"
    assert settings.key_header == "api_key"
    assert settings.duckdb_path == PROJECT_DIR / "data" / "analytics.duckdb"
    assert settings.dlt_dir == PROJECT_DIR / "data" / "dlt"
    assert settings.api_key is None


def test_variables_override_and_relative_paths_resolve_in_the_project(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ANALYTICS_API_BASE_URL": "https://api.persistiq.com/v1/",
            "ANALYTICS_API_KEY": "k-123",
            "ANALYTICS_API_KEY_HEADER": "x-api-key",
            "ANALYTICS_DUCKDB_PATH": "elsewhere/w.duckdb",
            "ANALYTICS_DLT_DIR": str(tmp_path),
        }
    )

    assert settings.base_url == "https://api.persistiq.com/v1/"
    assert settings.require_api_key() == "k-123"
    assert settings.key_header == "x-api-key"
    assert settings.duckdb_path == PROJECT_DIR / "elsewhere" / "w.duckdb"
    assert settings.dlt_dir == tmp_path
    assert "k-123" not in repr(settings)


def test_the_seeds_dlt_secret_is_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "from-dlt-secrets")  # what dlt.secrets["api_key"] reads

    assert load_settings({}).api_key == "from-dlt-secrets"


def test_a_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingApiKeyError, match="set ANALYTICS_API_KEY"):
        Settings().require_api_key()


def test_a_key_read_from_a_file_loses_its_line_break() -> None:
    assert load_settings({"ANALYTICS_API_KEY": "k-123\n"}).api_key == "k-123"


def test_a_key_with_a_control_character_inside_fails_without_quoting_it() -> None:
    with pytest.raises(SettingsError, match="ANALYTICS_API_KEY contains a control character") as e:
        load_settings({"ANALYTICS_API_KEY": "k-1\n23"})

    assert "k-1" not in str(e.value)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 8), ("1", 1), ("32", 32)], ids=["default", "one", "most"]
)
def test_requests_in_flight_default_to_eight(value: str | None, expected: int) -> None:
    environ = {} if value is None else {"ANALYTICS_API_MAX_CONCURRENCY": value}

    assert load_settings(environ).max_concurrency == expected


@pytest.mark.parametrize("value", ["0", "33", "2.5", "many"])
def test_requests_in_flight_outside_1_to_32_fail_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="ANALYTICS_API_MAX_CONCURRENCY must be"):
        load_settings({"ANALYTICS_API_MAX_CONCURRENCY": value})
