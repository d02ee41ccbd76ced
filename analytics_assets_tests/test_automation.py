"""Schedules, sensors, retry and freshness policies, through Dagster's test helpers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
import yaml

from analytics_assets.automation import FULL_REFRESH_CONFIG, build_schedules
from analytics_assets.definitions import defs
from analytics_assets.ingest.assets import WAREHOUSE_POOL, analytics_api_raw
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.models.assets import CAMPAIGN_PERFORMANCE, MODEL_KEYS
from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.schema import TABLES
from analytics_assets.settings import PROJECT_DIR, load_automation_settings
from analytics_assets_tests.conftest import TEST_KEY, run_sync, use_api

RAW_KEYS = [raw_asset_key(table) for table in TABLES]


def test_schedules_default_to_stopped_and_follow_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schedules = {s.name: s for s in defs.schedules}
    assert set(schedules) == {"analytics_api_sync_schedule", "analytics_api_full_refresh_schedule"}
    sync = schedules["analytics_api_sync_schedule"]
    assert (sync.cron_schedule, sync.execution_timezone) == ("0 * * * *", "UTC")
    assert sync.job_name == "analytics_api_sync"
    assert schedules["analytics_api_full_refresh_schedule"].cron_schedule == "0 3 * * 0"
    assert {s.default_status for s in defs.schedules} == {dg.DefaultScheduleStatus.STOPPED}

    monkeypatch.setenv("ANALYTICS_SYNC_CRON", "*/15 * * * *")
    monkeypatch.setenv("ANALYTICS_SCHEDULE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("ANALYTICS_SCHEDULES_RUNNING", "1")
    custom = {s.name: s for s in build_schedules(load_automation_settings())}

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
        assert policy.fail_window.to_timedelta() == timedelta(hours=2)
        assert policy.warn_window.to_timedelta() == timedelta(hours=1)
    for key in MODEL_KEYS:
        assert specs[key].automation_condition is not None


def test_the_instance_config_limits_the_warehouse_pool_and_retries_runs() -> None:
    config = yaml.safe_load((PROJECT_DIR / "dagster.yaml").read_text())

    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_retries"] == {"enabled": True, "max_retries": 2}
    assert config["telemetry"] == {"enabled": False}
    job = defs.resolve_implicit_global_asset_job_def()
    pools = {node.definition.pool for node in job.graph.nodes}
    # ingest, the checks' ops, one op per model
    assert len(job.graph.nodes) == 1 + len(defs.asset_checks) + len(MODEL_KEYS)
    assert pools == {WAREHOUSE_POOL}


def _raw_only(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Materialize the raw assets and run their checks, not the models (like a UI click).

    A full refresh, so that a defect in a lead the previous sync already read is read again.
    """
    job = dg.define_asset_job(
        "raw_only", selection=dg.AssetSelection.assets(*RAW_KEYS), config=FULL_REFRESH_CONFIG
    )
    raw_defs = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=[job], resources=defs.resources
    )
    return raw_defs.resolve_job_def("raw_only").execute_in_process(
        instance=instance, raise_on_error=False
    )


@pytest.mark.parametrize(
    ("defects", "rebuilt"),
    [
        ((), set(MODEL_KEYS)),
        (("null_email",), set()),  # users: not_null fails; both models read users
        (("null_owner_id",), {CAMPAIGN_PERFORMANCE.key}),  # leads: not_null fails
    ],
)
def test_the_automation_sensor_rebuilds_models_only_after_good_raw_updates(
    defects: tuple[str, ...], rebuilt: set[dg.AssetKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300)) as server:
        use_api(monkeypatch, server)
        assert run_sync(instance).success  # everything is up to date
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert quiet.total_requested == 0
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300, defects=defects)) as server:
        use_api(monkeypatch, server)
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
    use_api(monkeypatch, sandbox, key="wrong-key")
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
    assert TEST_KEY not in json.dumps(alert) and "wrong-key" not in json.dumps(alert)
