"""Schedules, sensors, retry and freshness policies, through Dagster's test helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
import yaml

from analytics_assets.automation import (
    ACTIVITY_KEYS,
    FULL_REFRESH_CONFIG,
    MAX_RUNTIME_TAG,
    activity_days,
    build_jobs,
    build_schedules,
)
from analytics_assets.definitions import defs
from analytics_assets.ingest.assets import analytics_api_raw
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.models.assets import MODEL_KEYS
from analytics_assets.models.catalog import CAMPAIGN_FUNNEL, CAMPAIGN_PERFORMANCE, DAILY_ACTIVITY
from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.schema import SYNC_TABLES, TABLES
from analytics_assets.settings import PROJECT_DIR, load_automation_settings
from analytics_assets.warehouse.lock import WAREHOUSE_POOL
from analytics_assets_tests.conftest import RESOURCES, TEST_KEY, run_sync, use_api

RAW_KEYS = [raw_asset_key(table) for table in TABLES]
SYNC_KEYS = [raw_asset_key(table) for table in SYNC_TABLES]


def test_schedules_default_to_stopped_and_follow_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schedules = {s.name: s for s in defs.schedules}
    assert set(schedules) == {
        "analytics_api_sync_schedule",
        "analytics_api_full_refresh_schedule",
        "analytics_api_activity_schedule",
    }
    sync = schedules["analytics_api_sync_schedule"]
    assert (sync.cron_schedule, sync.execution_timezone) == ("0 * * * *", "UTC")
    assert sync.job_name == "analytics_api_sync"
    assert schedules["analytics_api_full_refresh_schedule"].cron_schedule == "0 3 * * 0"
    assert {s.default_status for s in defs.schedules} == {dg.DefaultScheduleStatus.STOPPED}

    monkeypatch.setenv("ANALYTICS_SYNC_CRON", "*/15 * * * *")
    monkeypatch.setenv("ANALYTICS_SCHEDULE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("ANALYTICS_SCHEDULES_RUNNING", "1")
    settings = load_automation_settings()
    custom = {s.name: s for s in build_schedules(settings, build_jobs(settings))}

    assert custom["analytics_api_sync_schedule"].cron_schedule == "*/15 * * * *"
    assert custom["analytics_api_sync_schedule"].execution_timezone == "Europe/Berlin"
    assert custom["analytics_api_sync_schedule"].default_status == dg.DefaultScheduleStatus.RUNNING


@pytest.mark.parametrize(
    ("schedule_name", "full_refresh"),
    [("analytics_api_sync_schedule", False), ("analytics_api_full_refresh_schedule", True)],
)
def test_schedule_ticks_request_valid_runs(schedule_name: str, full_refresh: bool) -> None:
    schedule = next(s for s in defs.schedules if s.name == schedule_name)
    job = defs.resolve_job_def(schedule.job_name)
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 29, 3, tzinfo=UTC)
    )

    requests = schedule.evaluate_tick(context).run_requests

    assert requests is not None and len(requests) == 1
    config = job.run_config or {}
    assert (config == FULL_REFRESH_CONFIG) is full_refresh
    assert dg.validate_run_config(job, {**config, **requests[0].run_config})


def test_the_ingest_step_retries_with_exponential_backoff_and_jitter() -> None:
    policy = analytics_api_raw.op.retry_policy

    assert policy is not None
    assert (policy.max_retries, policy.backoff, policy.jitter) == (
        2,
        dg.Backoff.EXPONENTIAL,
        dg.Jitter.PLUS_MINUS,
    )


def test_raw_assets_have_freshness_policies_and_models_an_automation_condition() -> None:
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}

    for key in RAW_KEYS:
        policy = specs[key].freshness_policy
        daily = key in ACTIVITY_KEYS  # read once a day: a day more
        assert policy.fail_window.to_timedelta() == timedelta(hours=26 if daily else 2)
        assert policy.warn_window.to_timedelta() == timedelta(hours=13 if daily else 1)
    for key in MODEL_KEYS:
        assert specs[key].automation_condition is not None


def test_the_instance_config_limits_the_warehouse_pool_and_retries_runs() -> None:
    config = yaml.safe_load((PROJECT_DIR / "dagster.yaml").read_text())

    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_retries"] == {"enabled": True, "max_retries": 2}
    assert config["telemetry"] == {"enabled": False}
    job = defs.resolve_implicit_global_asset_job_def()
    pools = {node.definition.pool for node in job.graph.nodes}
    # the two ingest ops (unpartitioned, daily), the checks' ops, one op per model
    assert len(job.graph.nodes) == 2 + len(defs.asset_checks) + len(MODEL_KEYS)
    assert pools == {WAREHOUSE_POOL}


# -- maximum run times and run monitoring --------------------------------------------------------

JOBS = ("analytics_api_sync", "analytics_api_full_refresh", "analytics_api_activity_sync")


def _max_runtime_tags(job_defs: dg.Definitions) -> dict[str, str | None]:
    return {name: job_defs.resolve_job_def(name).run_tags.get(MAX_RUNTIME_TAG) for name in JOBS}


def test_the_jobs_carry_their_max_runtime_as_a_run_tag() -> None:
    assert _max_runtime_tags(defs) == {
        "analytics_api_sync": "7200",
        "analytics_api_full_refresh": "86400",
        "analytics_api_activity_sync": "7200",
    }
    # also job tags: launches from the UI or the CLI take a run's tags from the job's tags
    assert {name: defs.resolve_job_def(name).tags.get(MAX_RUNTIME_TAG) for name in JOBS} == (
        _max_runtime_tags(defs)
    )


SYNC_MAX_RUNTIME_VARIABLE = "ANALYTICS_SYNC_MAX_RUNTIME_S"
FULL_REFRESH_MAX_RUNTIME_VARIABLE = "ANALYTICS_FULL_REFRESH_MAX_RUNTIME_S"


def test_max_runtimes_follow_the_environment() -> None:
    runtimes = load_automation_settings(
        {SYNC_MAX_RUNTIME_VARIABLE: "600", FULL_REFRESH_MAX_RUNTIME_VARIABLE: " 172800 "}
    )

    assert (runtimes.sync_max_runtime_s, runtimes.full_refresh_max_runtime_s) == (600, 172800)
    custom = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=list(build_jobs(runtimes)),
        resources={**defs.resources, **RESOURCES},
    )
    assert _max_runtime_tags(custom) == {
        "analytics_api_sync": "600",
        "analytics_api_full_refresh": "172800",
        "analytics_api_activity_sync": "600",
    }


def test_max_runtimes_default_when_unset_or_empty() -> None:
    runtimes = load_automation_settings({FULL_REFRESH_MAX_RUNTIME_VARIABLE: ""})

    assert (runtimes.sync_max_runtime_s, runtimes.full_refresh_max_runtime_s) == (7200, 86400)


@pytest.mark.parametrize("value", ["2h", "1.5", "0", "-60"])
@pytest.mark.parametrize("variable", [SYNC_MAX_RUNTIME_VARIABLE, FULL_REFRESH_MAX_RUNTIME_VARIABLE])
def test_an_invalid_max_runtime_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        load_automation_settings({variable: value})


@pytest.mark.parametrize("path", ["dagster.yaml", "deploy/dagster.yaml"])
def test_the_instance_configs_enable_run_monitoring(path: str) -> None:
    config = yaml.safe_load((PROJECT_DIR / path).read_text())
    monitoring = config["run_monitoring"]
    assert monitoring == {
        "enabled": True,
        "poll_interval_seconds": 60,
        "max_runtime_seconds": 86400,  # for runs without the tag, e.g. "Materialize" in the UI
        "free_slots_after_run_end_seconds": 60,
    }
    validated = {key: value for key, value in config.items() if key != "storage"}

    with dg.instance_for_test(overrides=validated) as instance:  # Dagster validates every key
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 86400
        assert instance.run_monitoring_poll_interval_seconds == 60


def test_dagster_rejects_an_unknown_run_monitoring_key() -> None:
    # what keeps the test above honest: a misspelt key fails the instance, it is not ignored
    overrides = {"run_monitoring": {"enabled": True, "max_runtime": 60}}

    with pytest.raises(dg.DagsterInvalidConfigError, match="max_runtime"):
        with dg.instance_for_test(overrides=overrides):
            pass


STUCK_LOCATION = """
import time

import dagster as dg


@dg.asset(pool={pool!r})
def stuck(context: dg.AssetExecutionContext) -> None:
    context.log.info("stuck until run monitoring ends the run")
    deadline = time.monotonic() + 120  # never outlives the test by much
    while time.monotonic() < deadline:
        time.sleep(0.1)


stuck_job = dg.define_asset_job("stuck_job", selection=[stuck], tags={{{tag!r}: "3"}})
defs = dg.Definitions(assets=[stuck], jobs=[stuck_job])
"""
"""A test-only code location: a job tagged like ours whose one step, in the warehouse pool,
never finishes by itself."""


def test_run_monitoring_ends_a_run_that_outlives_its_max_runtime(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((PROJECT_DIR / "dagster.yaml").read_text())
    config["run_monitoring"]["poll_interval_seconds"] = 1  # 60 in the file
    config["run_retries"] = {"enabled": False}  # a retry would start the stuck run again
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    location = STUCK_LOCATION.format(pool=WAREHOUSE_POOL, tag=MAX_RUNTIME_TAG)
    (tmp_path / "stuck.py").write_text(location)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    bin_dir = Path(sys.executable).parent
    daemon_log = tmp_path / "daemon.log"

    with dg.DagsterInstance.from_config(str(home)) as instance, daemon_log.open("w") as log:
        daemon = subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-f", "stuck.py"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            launched = subprocess.run(  # queued; the daemon launches it
                [str(bin_dir / "dagster"), "job", "launch", "-f", "stuck.py", "-j", "stuck_job"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert launched.returncode == 0, launched.stdout + launched.stderr
            (run,) = instance.get_runs()
            assert run.tags[MAX_RUNTIME_TAG] == "3"
            deadline = time.monotonic() + 120
            while not run.is_finished:
                assert time.monotonic() < deadline, daemon_log.read_text()[-3000:]
                time.sleep(0.5)
                run = instance.get_run_by_id(run.run_id) or run
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()

        record = instance.get_run_record_by_id(run.run_id)
        messages = [entry.message for entry in instance.all_logs(run.run_id)]
        slots = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots

    assert run.status == dg.DagsterRunStatus.FAILURE
    assert "Exceeded maximum runtime of 3 seconds." in messages
    assert record is not None and record.start_time and record.end_time
    assert record.end_time - record.start_time >= 3
    assert slots == []  # the pool is free for the next run


def _raw_only(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Materialize the raw assets and run their checks, not the models (like a UI click).

    A full refresh, so that a defect in a lead the previous sync already read is read again.
    """
    job = dg.define_asset_job(
        "raw_only", selection=dg.AssetSelection.assets(*SYNC_KEYS), config=FULL_REFRESH_CONFIG
    )
    raw_defs = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=[job],
        resources={**defs.resources, **RESOURCES},
    )
    return raw_defs.resolve_job_def("raw_only").execute_in_process(
        instance=instance, raise_on_error=False
    )


@pytest.mark.parametrize(
    ("defects", "rebuilt"),
    [
        # daily_activity reads only events and replies, which a sync does not read
        ((), set(MODEL_KEYS) - {DAILY_ACTIVITY.key}),
        # users: not_null fails; of the models rebuilt whole only campaign_funnel reads no users
        (("null_email",), {CAMPAIGN_FUNNEL.key}),
        # leads: not_null fails; the campaign models read no leads
        (("null_owner_id",), {CAMPAIGN_PERFORMANCE.key, CAMPAIGN_FUNNEL.key}),
    ],
)
def test_the_automation_sensor_rebuilds_models_only_after_good_raw_updates(
    defects: tuple[str, ...], rebuilt: set[dg.AssetKey]
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300)) as server:
        use_api(server)
        assert run_sync(instance).success  # everything is up to date
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert quiet.total_requested == 0
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300, defects=defects)) as server:
        use_api(server)
        assert _raw_only(instance).success == (not defects)  # a blocking check fails

    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)

    assert {key for key in MODEL_KEYS if after.get_num_requested(key)} == rebuilt


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Receiver.received
    server.shutdown()
    server.server_close()


def test_the_failure_sensor_posts_a_json_alert(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    receiver: tuple[str, list[dict]],
) -> None:
    url, received = receiver
    monkeypatch.setenv("ANALYTICS_ALERT_WEBHOOK_URL", url)
    use_api(sandbox, key="wrong-key")
    instance = dg.DagsterInstance.ephemeral()
    failed = run_sync(instance)
    assert not failed.success
    run = instance.get_run_by_id(failed.run_id)
    (failure_entry,) = instance.all_logs(failed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    failure_event = failure_entry.dagster_event
    sensor = next(s for s in defs.sensors if s.name == "analytics_run_failure_sensor")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure_event,
    ).for_run_failure()

    sensor(context)

    assert len(received) == 1
    alert = received[0]
    assert alert["event"] == "dagster_run_failure"
    assert (alert["run_id"], alert["job_name"]) == (failed.run_id, "analytics_api_sync")
    assert alert["failed_steps"] == ["analytics_api_raw"]
    assert alert["errors"]["analytics_api_raw"].startswith(
        f"users: GET {sandbox.base_url}users answered 401 (unauthorized: "
    )
    assert TEST_KEY not in json.dumps(alert) and "wrong-key" not in json.dumps(alert)


def test_the_activity_schedule_covers_the_lookback_from_the_history_start_on() -> None:
    settings = load_automation_settings({"ANALYTICS_ACTIVITY_LOOKBACK_DAYS": "5"})
    assert activity_days(settings, date(2026, 11, 20)) == ("2026-11-15", "2026-11-19")
    late_start = load_automation_settings({"ANALYTICS_HISTORY_START": "2026-11-18"})
    assert activity_days(late_start, date(2026, 11, 20)) == ("2026-11-18", "2026-11-19")
    assert activity_days(late_start, date(2026, 11, 18)) == ("2026-11-18", "2026-11-17")
    schedule = next(
        s
        for s in build_schedules(late_start, build_jobs(late_start))
        if s.name == "analytics_api_activity_schedule"
    )
    tick = datetime(2026, 11, 18, 0, 30, tzinfo=UTC)
    result = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick))
    assert result.run_requests == [] and "no day" in (result.skip_message or "")
    with pytest.raises(ValueError, match="ANALYTICS_ACTIVITY_LOOKBACK_DAYS"):
        load_automation_settings({"ANALYTICS_ACTIVITY_LOOKBACK_DAYS": "0"})
