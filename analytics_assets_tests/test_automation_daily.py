"""The automation sensor and daily_activity: any day whose events or replies were read again
is rebuilt, not only the latest."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from analytics_assets.automation import ACTIVITY_KEYS, RANGE_TAGS
from analytics_assets.ingest.specs import activity_partitions
from analytics_assets.models.catalog import CAMPAIGN_FUNNEL, DAILY_ACTIVITY
from analytics_assets.sandbox import PatchRecord, SandboxConfig, SandboxServer
from analytics_assets.sandbox.activity import today_utc
from analytics_assets_tests.conftest import (
    TEST_AUTOMATION,
    TEST_KEY,
    definitions_for_test,
    run_sync,
    step_failure,
    use_api,
)


def _raw_days(
    defs: dg.Definitions, first: str, last: str, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    """Read events and replies of the days first..last (one run), not daily_activity: a
    backfill launched from the raw assets' page."""
    job = dg.define_asset_job(
        "raw_days",
        selection=dg.AssetSelection.assets(*ACTIVITY_KEYS),
        partitions_def=activity_partitions(TEST_AUTOMATION),
    )
    raw_defs = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=[job], resources=defs.resources
    )
    tags = dict(zip(RANGE_TAGS, (first, last), strict=True))
    return raw_defs.resolve_job_def("raw_days").execute_in_process(
        instance=instance, raise_on_error=False, tags=tags
    )


def test_a_backfill_of_old_days_requests_exactly_those_days_of_daily_activity() -> None:
    instance = dg.DagsterInstance.ephemeral()
    old = [str(today_utc() - timedelta(days=n)) for n in (9, 8, 7)]
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300, campaigns=10)) as server:
        use_api(server)
        defs = definitions_for_test()
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert quiet.get_num_requested(DAILY_ACTIVITY.key) == 0

        result = _raw_days(defs, old[0], old[-1], instance)
        assert result.success, step_failure(result)

    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)

    assert after.get_requested_partitions(DAILY_ACTIVITY.key) == set(old)


@pytest.mark.parametrize("bad_reply", [False, True], ids=["clean", "a-reply-set-aside"])
def test_days_of_replies_rebuild_the_funnel_unless_their_blocking_check_failed(
    bad_reply: bool,
) -> None:
    """campaign_funnel reads the replies loaded so far: the days never read do not hold it
    back, a failed blocking check on replies (a record set aside) does."""
    instance = dg.DagsterInstance.ephemeral()
    days = [str(today_utc() - timedelta(days=n)) for n in (4, 3)]
    with SandboxServer(SandboxConfig(api_key=TEST_KEY, leads=300, campaigns=10)) as server:
        use_api(server)
        defs = definitions_for_test()
        assert run_sync(instance).success
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert quiet.get_num_requested(CAMPAIGN_FUNNEL.key) == 0
        if bad_reply:
            server.inject("replies", PatchRecord(0, "id", remove=True))
        result = _raw_days(defs, days[0], days[-1], instance)
        assert result.success is not bad_reply, step_failure(result)  # a blocking check fails
        failed = {
            evaluation.asset_check_key.name
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed
        }
        assert failed == ({"rejected_records"} if bad_reply else set())

    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)

    assert after.get_num_requested(CAMPAIGN_FUNNEL.key) == (0 if bad_reply else 1)
    assert after.get_requested_partitions(DAILY_ACTIVITY.key) == (set() if bad_reply else set(days))
