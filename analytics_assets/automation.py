"""Jobs, schedules, sensors and freshness: how and when the assets run.

Default statuses: the schedules start STOPPED, so a fresh ``make dev`` never calls an API on its
own (switch them on in the UI, or set ``ANALYTICS_SCHEDULES_RUNNING=1``); the sensors start
RUNNING, as they call no API: one rebuilds models when their upstreams change, one reports
failed runs. Each job's runs carry a maximum run time (``dagster/max_runtime``), which the
instance's run monitoring enforces.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from analytics_assets.ingest.specs import activity_partitions, raw_asset_key
from analytics_assets.models.assets import DAILY_MODEL_KEYS, MODEL_KEYS
from analytics_assets.schema import ACTIVITY_TABLES, API_NAME, SYNC_TABLES
from analytics_assets.settings import AutomationSettings

AssetJob = Any
"""What ``dg.define_asset_job`` returns: dagster exports no public name for its type."""

ALERT_WEBHOOK_VARIABLE = "ANALYTICS_ALERT_WEBHOOK_URL"
WHOLE_MODEL_KEYS = tuple(key for key in MODEL_KEYS if key not in DAILY_MODEL_KEYS)
SYNC_SELECTION = dg.AssetSelection.assets(
    *(raw_asset_key(table) for table in SYNC_TABLES), *WHOLE_MODEL_KEYS
)
ACTIVITY_KEYS = [raw_asset_key(table) for table in ACTIVITY_TABLES]
ACTIVITY_SELECTION = dg.AssetSelection.assets(*ACTIVITY_KEYS, *DAILY_MODEL_KEYS)
FULL_REFRESH_CONFIG = {"ops": {"analytics_api_raw": {"config": {"full_refresh": True}}}}
DAILY_RAW = dg.AssetSelection.assets(*ACTIVITY_KEYS)
MODEL_AUTOMATION = (
    dg.AutomationCondition.eager().replace(
        "any_deps_missing", dg.AutomationCondition.any_deps_missing().ignore(DAILY_RAW)
    )
    & dg.AutomationCondition.all_deps_blocking_checks_passed().ignore(DAILY_RAW)
    & dg.AutomationCondition.all_deps_match(
        dg.AutomationCondition.all_checks_match(
            ~dg.AutomationCondition.check_failed(), blocking_only=True
        )
    ).allow(DAILY_RAW)
)
"""Rebuild a model when an upstream raw table changed, unless its blocking checks failed.

A model that reads the daily tables (campaign_funnel: replies) reads the days loaded so far:
days never read (there are always some, back to ANALYTICS_HISTORY_START), and so checks never
run, do not hold it back, as ``eager`` alone would; a failed blocking check of theirs does."""
DAILY_MODEL_AUTOMATION = (
    dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())
) & dg.AutomationCondition.all_deps_blocking_checks_passed()
"""The same for each day of a model by day, any day: a backfill of its sources' days rebuilds
those days (``eager`` alone looks at the latest day only)."""

MAX_RUNTIME_TAG = "dagster/max_runtime"
"""Dagster's run tag (seconds): run monitoring ends a run that has been running longer."""


def build_jobs(settings: AutomationSettings) -> tuple[AssetJob, AssetJob, AssetJob]:
    """``analytics_api_sync``, ``analytics_api_full_refresh`` and ``analytics_api_activity_sync``,
    their runs tagged with their maximum run times."""
    sync = dg.define_asset_job(
        name="analytics_api_sync",
        selection=SYNC_SELECTION,
        description=(
            "Sync users, leads, campaigns, campaign leads and the lookups from the API into the "
            "warehouse, check them, then rebuild the models (a failed blocking check keeps the "
            "models from rebuilding)."
        ),
        tags={MAX_RUNTIME_TAG: str(settings.sync_max_runtime_s)},  # run tags on every launch
    )
    full_refresh = dg.define_asset_job(
        name="analytics_api_full_refresh",
        selection=SYNC_SELECTION,
        config=FULL_REFRESH_CONFIG,
        description="analytics_api_sync, re-reading every lead instead of the changed ones.",
        tags={MAX_RUNTIME_TAG: str(settings.full_refresh_max_runtime_s)},
    )
    activity = dg.define_asset_job(
        name="analytics_api_activity_sync",
        selection=ACTIVITY_SELECTION,
        partitions_def=activity_partitions(settings),
        description=(
            "Read one UTC day (or a range, as one run) of events and replies, check them, then "
            "rebuild those days of daily_activity. Replies are read once per campaign for the "
            "whole range."
        ),
        tags={MAX_RUNTIME_TAG: str(settings.sync_max_runtime_s)},
    )
    return sync, full_refresh, activity


def _schedule_status() -> dg.DefaultScheduleStatus:
    running = os.environ.get("ANALYTICS_SCHEDULES_RUNNING", "").lower() in {"1", "true", "yes"}
    return dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED


def build_schedules(
    settings: AutomationSettings, jobs: tuple[AssetJob, AssetJob, AssetJob]
) -> list[dg.ScheduleDefinition]:
    """The hourly incremental sync, the weekly full refresh and the daily activity read, for
    ``jobs`` (``build_jobs``' three)."""
    analytics_api_sync, analytics_api_full_refresh, analytics_api_activity_sync = jobs
    return [
        dg.ScheduleDefinition(
            name="analytics_api_sync_schedule",
            job=analytics_api_sync,
            cron_schedule=settings.sync_cron,
            execution_timezone=settings.timezone,
            default_status=_schedule_status(),
            description="Incremental sync (leads updated since the last sync).",
        ),
        dg.ScheduleDefinition(
            name="analytics_api_full_refresh_schedule",
            job=analytics_api_full_refresh,
            cron_schedule=settings.full_refresh_cron,
            execution_timezone=settings.timezone,
            default_status=_schedule_status(),
            description="Weekly full refresh: re-reads every lead.",
        ),
        activity_schedule(analytics_api_activity_sync, settings),
    ]


RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
"""Dagster's run tags for a range of partitions in one run (what a single-run backfill sets)."""
ACTIVITY_CRON = "30 0 * * *"


def activity_days(settings: AutomationSettings, today: date) -> tuple[str, str]:
    """First and last daily partition the activity run reads on ``today`` (UTC): the last
    ``activity_lookback_days`` days, ending yesterday, none before the history start."""
    start = date.fromisoformat(settings.history_start)
    first = max(start, today - timedelta(days=settings.activity_lookback_days))
    return str(first), str(today - timedelta(days=1))


def activity_schedule(job: AssetJob, settings: AutomationSettings) -> dg.ScheduleDefinition:
    """Daily at 00:30 UTC, one run over the last ``ANALYTICS_ACTIVITY_LOOKBACK_DAYS`` days."""

    @dg.schedule(
        name="analytics_api_activity_schedule",
        job=job,
        cron_schedule=ACTIVITY_CRON,
        execution_timezone="UTC",
        default_status=_schedule_status(),
        description=(
            f"Daily at 00:30 UTC: events and replies of the last {settings.activity_lookback_days}"
            " UTC days, ending with the one that just ended, in one run (late arrivals land in "
            "days already read)."
        ),
    )
    def analytics_api_activity_schedule(
        context: dg.ScheduleEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        moment = context.scheduled_execution_time or datetime.now(UTC)
        first, last = activity_days(settings, moment.astimezone(UTC).date())
        if last < first:
            return dg.SkipReason(f"no day since ANALYTICS_HISTORY_START ({first}) has ended")
        return dg.RunRequest(
            run_key=f"{first}..{last}", tags=dict(zip(RANGE_TAGS, (first, last), strict=True))
        )

    return analytics_api_activity_schedule


analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    name="analytics_automation_sensor",
    target=dg.AssetSelection.assets(*MODEL_KEYS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the models when the raw tables they read were updated.",
)


def alert_payload(context: dg.RunFailureSensorContext) -> dict[str, object]:
    """The JSON an alert webhook receives for a failed run: which steps failed, and why."""
    run = context.dagster_run
    return {
        "event": "dagster_run_failure",
        "run_id": run.run_id,
        "job_name": run.job_name,
        "message": context.failure_event.message,
        "failed_steps": sorted(
            event.step_key for event in context.get_step_failure_events() if event.step_key
        ),
        "errors": {
            event.step_key: _failure_text(event)
            for event in context.get_step_failure_events()
            if event.step_key
        },
    }


def _failure_text(event: dg.DagsterEvent) -> str:
    """What a failed step says: its Failure's description (the key already masked), or the
    error's message."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message.strip() if data.error else ""


@dg.run_failure_sensor(
    name="analytics_run_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=f"Logs failed runs and POSTs them to {ALERT_WEBHOOK_VARIABLE} when set.",
)
def analytics_run_failure_sensor(context: dg.RunFailureSensorContext) -> None:
    """Report a failed run: always in the sensor's log, and to a webhook when configured."""
    payload = alert_payload(context)
    context.log.error(
        f"run {payload['run_id']} of {payload['job_name']} failed: {payload['message']}"
    )
    url = os.environ.get(ALERT_WEBHOOK_VARIABLE)
    if not url:
        return
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
        context.log.info(f"alert sent to the webhook: HTTP {response.status}")


def with_freshness(
    assets: Sequence[dg.AssetsDefinition], settings: AutomationSettings
) -> Sequence[dg.AssetsDefinition]:
    """Raw tables get a freshness policy (warn at half the window; the daily activity a day
    more); models rebuild eagerly."""
    fail_window = timedelta(hours=settings.freshness_hours)
    policy = dg.FreshnessPolicy.time_window(fail_window=fail_window, warn_window=fail_window / 2)
    daily_window = fail_window + timedelta(days=1)
    daily = dg.FreshnessPolicy.time_window(fail_window=daily_window, warn_window=daily_window / 2)

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key in ACTIVITY_KEYS:
            return spec.replace_attributes(freshness_policy=daily)
        if spec.group_name == API_NAME:
            return spec.replace_attributes(freshness_policy=policy)
        if spec.key in DAILY_MODEL_KEYS:
            return spec.replace_attributes(automation_condition=DAILY_MODEL_AUTOMATION)
        if spec.key in MODEL_KEYS:
            return spec.replace_attributes(automation_condition=MODEL_AUTOMATION)
        return spec

    return dg.map_asset_specs(apply, assets)  # type: ignore[return-value]
