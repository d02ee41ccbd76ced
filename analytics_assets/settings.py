"""Typed settings, read from the environment at run time (never at import time).

The Dagster UI must open with no secret set, so nothing here runs on import: assets call
``settings_from(...)`` when they execute.

The settings reach the assets through Dagster resources (``EnvBackedResource``: the API's in
``api/resource.py``, the warehouse's in ``warehouse/resource.py``): each field stands for one
documented environment variable. Set in the environment when the code location loads, a field
is that variable (``dg.EnvVar``, read when a run starts; the UI names it); unset, the variable is
read when a run starts; a value given in code or in the launchpad wins for that run. Fields are
text, as environment variables are, and are checked by the same rules (``load_settings``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar, Self
from urllib.parse import urlsplit

import dagster as dg

PROJECT_DIR = Path(__file__).resolve().parent.parent
DAY_S = 86_400.0
"""Relative paths in settings resolve against the project directory, not the caller's cwd."""

DEFAULT_DESTINATION = "duckdb"
DEFAULT_MAX_CONCURRENCY = 8
"""Requests in flight at once: at 250 ms per request, 8 reach 1,920 a minute, past the 500 of
PersistIq's fastest keys seen, so the rate limit, not the latency, bounds a sync."""
MAX_CONCURRENCY = 32
SEED_BASE_URL = "https://api.example.com/v1/"
SEED_KEY_HEADER = "api_key"
API_KEY_VARIABLE = "ANALYTICS_API_KEY"
DLT_SECRET_NAME = "api_key"  # the seed reads dlt.secrets["api_key"]


class MissingApiKeyError(RuntimeError):
    """Raised when a sync starts without an API key."""


class SettingsError(ValueError):
    """A setting that cannot work; the message names the variable and what it should be."""


@dataclass(frozen=True)
class Settings:
    """Everything a sync needs to know about where to read and where to write."""

    base_url: str = SEED_BASE_URL
    key_header: str = SEED_KEY_HEADER
    destination: str = DEFAULT_DESTINATION  # any dlt destination; credentials the dlt way
    duckdb_path: Path = PROJECT_DIR / "data" / "analytics.duckdb"
    dlt_dir: Path = PROJECT_DIR / "data" / "dlt"
    api_key: str | None = field(default=None, repr=False)
    max_attempts: int = 3  # the seed: 3 attempts in total
    backoff_factor: float = 2.0  # the seed: waits of 2 s, then 4 s
    timeout_s: float = 30.0  # per request attempt: connect, headers and the whole body
    max_wait_s: float = 300.0  # the longest wait for a Retry-After or rate-limit reset
    requests_per_minute: float | None = None  # PersistIq allows 100 per key
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY  # requests in flight at once
    leads_overlap_s: float = 300.0
    duckdb_lock_wait_s: float = 30.0  # how long a step waits for another process's DuckDB lock

    def require_api_key(self) -> str:
        """The API key, or a clear error naming the variable that provides it."""
        if self.api_key:
            return self.api_key
        raise MissingApiKeyError(
            f"No API key: set {API_KEY_VARIABLE} in the environment (or `{DLT_SECRET_NAME}` in "
            ".dlt/secrets.toml, the dlt way) before materializing the analytics_api assets."
        )


def _path(value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_DIR / path


def _dlt_secret_api_key() -> str | None:
    # dlt's own lookup: env API_KEY, then .dlt/secrets.toml in the working directory.
    import dlt

    value = dlt.secrets.get(DLT_SECRET_NAME)
    return str(value) if value else None


def configured_destination(environ: Mapping[str, str] | None = None) -> str:
    """The dlt destination ``ANALYTICS_DESTINATION`` names (default ``duckdb``).

    Also read when the code location loads: asset kinds name the destination.
    """
    env = os.environ if environ is None else environ
    return (env.get("ANALYTICS_DESTINATION") or DEFAULT_DESTINATION).strip().lower()


def _number(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    value = env.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if number < 0 or not math.isfinite(number):
        raise SettingsError(f"{name} must be a finite number, not negative, got {value!r}")
    return number


def _whole(
    env: Mapping[str, str], name: str, default: int, least: int, most: float = math.inf
) -> int:
    number = _number(env, name, default)
    if number is None or number != int(number) or not least <= number <= most:
        within = f">= {least}" if most == math.inf else f"within {least}..{most:g}"
        raise SettingsError(f"{name} must be a whole number {within}, got {env.get(name)!r}")
    return int(number)


def _positive(env: Mapping[str, str], name: str, default: float, most: float = DAY_S) -> float:
    number = _number(env, name, default)
    if not number or number > most:
        raise SettingsError(
            f"{name} must be more than 0 and at most {most:g}, got {env.get(name)!r}"
        )
    return number


def _rate(env: Mapping[str, str]) -> float | None:
    """ANALYTICS_API_REQUESTS_PER_MINUTE: unset or 0 (no cap), else at least 1 a minute."""
    name = "ANALYTICS_API_REQUESTS_PER_MINUTE"
    number = _number(env, name, None)
    if not number:
        return None
    if number < 1:
        raise SettingsError(f"{name} must be at least 1 (or unset for no cap), got {env[name]!r}")
    return number


def _api_key(value: str | None) -> str | None:
    """The key without the whitespace a secret file leaves around it; control characters fail
    (they cannot go into a header, and the error would quote the key)."""
    key = value.strip() if value else None
    if key and any(ord(char) < 32 or ord(char) == 127 for char in key):
        raise SettingsError(
            f"{API_KEY_VARIABLE} contains a control character (e.g. a line break inside it); "
            "set it to the key alone"
        )
    return key or None


def _base_url(env: Mapping[str, str]) -> str:
    value = (env.get("ANALYTICS_API_BASE_URL") or SEED_BASE_URL).strip()
    if not _is_http_url(value):
        raise SettingsError(
            "ANALYTICS_API_BASE_URL must be an http(s) URL with a host, like "
            f"https://api.persistiq.com/v1/, got {value!r}"
        )
    return value


def _is_http_url(value: str) -> bool:
    """An http(s) URL with a host, as urllib3 will parse it (no spaces or control characters)."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if any(char.isspace() or ord(char) < 32 for char in value):
        return False
    try:
        split, parsed = urlsplit(value), parse_url(value)
        port_ok = split.port is None or 0 < split.port
    except (ValueError, LocationParseError):  # a bad IPv6 literal or port, an invalid host
        return False
    return split.scheme in ("http", "https") and bool(split.hostname and parsed.host) and port_ok


@dataclass(frozen=True)
class AutomationSettings:
    """Settings that shape the definitions themselves (schedules, retries, freshness).

    Read when the code location loads (a cron must be known before any run); reload the code
    location in the UI to apply a change.
    """

    sync_cron: str = "0 * * * *"  # hourly incremental sync
    full_refresh_cron: str = "0 3 * * 0"  # weekly full refresh, Sunday 03:00
    timezone: str = "UTC"
    retry_max: int = 2  # Dagster retries of the ingest step, after dlt's own request retries
    retry_delay_s: float = 60.0  # first wait; doubles (with jitter) on each retry
    freshness_hours: float = 2.0  # raw tables older than this fail their freshness policy
    sync_max_runtime_s: int = 2 * 60 * 60
    """The hourly incremental sync: a page or two of leads per hour, normally minutes."""
    full_refresh_max_runtime_s: int = 24 * 60 * 60
    """A full refresh: 10M leads at PersistIq's 100 requests/min take about 17 hours."""
    history_start: str = "2025-01-01"
    """First UTC day of the daily partitions of events and replies (``ANALYTICS_HISTORY_START``)."""
    activity_lookback_days: int = 3
    """Days the daily activity run reads, ending with the day that just ended: replies and
    events that reach the API late (a mailbox synced hours later) land in a day already read."""


def load_automation_settings(environ: Mapping[str, str] | None = None) -> AutomationSettings:
    """Read ``ANALYTICS_SYNC_CRON`` & co. from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    defaults = AutomationSettings()
    return AutomationSettings(
        sync_cron=env.get("ANALYTICS_SYNC_CRON") or defaults.sync_cron,
        full_refresh_cron=env.get("ANALYTICS_FULL_REFRESH_CRON") or defaults.full_refresh_cron,
        timezone=env.get("ANALYTICS_SCHEDULE_TIMEZONE") or defaults.timezone,
        retry_max=int(_number(env, "ANALYTICS_RETRY_MAX", defaults.retry_max) or 0),
        retry_delay_s=_number(env, "ANALYTICS_RETRY_DELAY_S", defaults.retry_delay_s) or 0.0,
        freshness_hours=_number(env, "ANALYTICS_FRESHNESS_HOURS", defaults.freshness_hours)
        or defaults.freshness_hours,
        sync_max_runtime_s=_whole(
            env, "ANALYTICS_SYNC_MAX_RUNTIME_S", defaults.sync_max_runtime_s, 1
        ),
        full_refresh_max_runtime_s=_whole(
            env, "ANALYTICS_FULL_REFRESH_MAX_RUNTIME_S", defaults.full_refresh_max_runtime_s, 1
        ),
        history_start=_day(env, "ANALYTICS_HISTORY_START", defaults.history_start),
        activity_lookback_days=_whole(
            env, "ANALYTICS_ACTIVITY_LOOKBACK_DAYS", defaults.activity_lookback_days, 1
        ),
    )


def _day(env: Mapping[str, str], variable: str, default: str) -> str:
    """A UTC day ``YYYY-MM-DD`` from ``env``; SettingsError naming ``variable`` otherwise."""
    value = (env.get(variable) or default).strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{variable}: {value!r} is not a day (YYYY-MM-DD)") from None
    if len(value) != 10:
        raise SettingsError(f"{variable}: {value!r} is not a day (YYYY-MM-DD)")
    return day.isoformat()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    return Settings(
        base_url=_base_url(env),
        key_header=env.get("ANALYTICS_API_KEY_HEADER") or defaults.key_header,
        destination=configured_destination(env),
        duckdb_path=_path(env.get("ANALYTICS_DUCKDB_PATH") or defaults.duckdb_path),
        dlt_dir=_path(env.get("ANALYTICS_DLT_DIR") or defaults.dlt_dir),
        api_key=_api_key(env.get(API_KEY_VARIABLE) or _dlt_secret_api_key()),
        max_attempts=_whole(env, "ANALYTICS_API_MAX_ATTEMPTS", defaults.max_attempts, 1),
        backoff_factor=_number(env, "ANALYTICS_API_BACKOFF_FACTOR", 2.0) or 0.0,
        timeout_s=_positive(env, "ANALYTICS_API_TIMEOUT_S", defaults.timeout_s),
        max_wait_s=_positive(env, "ANALYTICS_API_MAX_WAIT_S", defaults.max_wait_s),
        requests_per_minute=_rate(env),
        max_concurrency=_whole(
            env, "ANALYTICS_API_MAX_CONCURRENCY", defaults.max_concurrency, 1, MAX_CONCURRENCY
        ),
        leads_overlap_s=_number(env, "ANALYTICS_LEADS_OVERLAP_S", 300.0) or 0.0,
        duckdb_lock_wait_s=_number(env, "ANALYTICS_DUCKDB_LOCK_WAIT_S", 30.0) or 0.0,
    )


class EnvBackedResource(dg.ConfigurableResource):
    """A resource whose fields are documented environment variables (see the module docstring).

    Subclasses map each field to its variable in ``VARIABLES``.
    """

    VARIABLES: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The resource with every variable set in ``environ`` as that field's ``dg.EnvVar``."""
        env = os.environ if environ is None else environ
        return cls(**{name: dg.EnvVar(var) for name, var in cls.VARIABLES.items() if env.get(var)})

    def environ(self) -> dict[str, str]:
        """The fields that have a value, as the environment variables they stand for.

        An ``EnvVar`` not resolved yet (outside a run) is left to the environment itself.
        """
        values = {name: getattr(self, name) for name in self.VARIABLES}
        return {
            self.VARIABLES[name]: str(value)
            for name, value in values.items()
            if value is not None and not isinstance(value, dg.EnvVar)
        }


def run_environ(*resources: EnvBackedResource) -> dict[str, str]:
    """The process environment with the resources' fields over it."""
    environ = dict(os.environ)
    for resource in resources:
        environ.update(resource.environ())
    return environ


def settings_from(*resources: EnvBackedResource) -> Settings:
    """The settings of a run: the resources' fields over the process environment, checked.

    Raises:
        SettingsError: a value cannot work (naming its variable).
    """
    return load_settings(run_environ(*resources))
