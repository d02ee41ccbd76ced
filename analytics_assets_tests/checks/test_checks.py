"""Asset checks on real loads: clean data passes; each defect fails exactly one check."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.checks.assets import CHECK_SPECS
from analytics_assets.checks.rules import RULES
from analytics_assets.definitions import defs
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.models.catalog import MODELS
from analytics_assets.sandbox import DuplicateRecord, PatchRecord, SandboxConfig, SandboxServer
from analytics_assets.schema import SYNC_TABLES, TABLES
from analytics_assets_tests.conftest import RESOURCES, TEST_KEY, query, run_sync, use_api

RAW_KEYS = {raw_asset_key(table) for table in SYNC_TABLES}
JOB_KEYS = set(defs.resolve_job_def("analytics_api_sync").asset_layer.executable_asset_keys)

# defect -> (the one check it must fail, severity)
DEFECT_CHECKS = {
    "null_email": ("analytics_api/users:not_null", dg.AssetCheckSeverity.ERROR),
    "malformed_email": ("analytics_api/users:email_format", dg.AssetCheckSeverity.ERROR),
    "null_owner_id": ("analytics_api/leads:not_null", dg.AssetCheckSeverity.ERROR),
    "duplicate_id": ("analytics_api/leads:primary_key", dg.AssetCheckSeverity.ERROR),
    "string_in_integer": ("analytics_api/leads:column_types", dg.AssetCheckSeverity.ERROR),
    "undeclared_field": ("analytics_api/campaigns:schema_drift", dg.AssetCheckSeverity.WARN),
}


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {event.asset_key for event in result.get_asset_materialization_events()}


def test_checks_are_generated_from_the_schema() -> None:
    expected = {
        f"analytics_api/{table.name}:{rule.name}"
        for table in TABLES
        for rule in RULES
        if rule.applies_to(table)
    }
    assert {spec.key.to_user_string() for spec in CHECK_SPECS} == expected
    assert "analytics_api/users:email_format" in expected
    assert "analytics_api/users:references" not in expected  # users reference nothing
    blocking = {spec.key.name for spec in CHECK_SPECS if spec.blocking}
    assert blocking == {
        "not_null",
        "column_types",
        "primary_key",
        "email_format",
        "rejected_records",
    }


def test_every_check_passes_on_clean_data_in_the_same_run(sandbox: SandboxServer) -> None:
    use_api(sandbox)

    result = run_sync()

    assert result.success
    evaluations = _evaluations(result)
    in_sync = {spec.key.to_user_string() for spec in CHECK_SPECS if spec.asset_key in RAW_KEYS}
    assert set(evaluations) == in_sync
    failed = {key: e.metadata for key, e in evaluations.items() if not e.passed}
    assert failed == {}
    assert all(e.metadata["offending_rows"].value == 0 for e in evaluations.values())
    assert _materialized(result) == JOB_KEYS


@pytest.mark.parametrize("defect", sorted(DEFECT_CHECKS))
def test_each_defect_fails_exactly_its_check_and_names_the_ids(
    defect: str, warehouse: Path
) -> None:
    check, severity = DEFECT_CHECKS[defect]
    config = SandboxConfig(api_key=TEST_KEY, leads=300, defects=(defect,))
    with SandboxServer(config) as server:
        use_api(server)
        result = run_sync()
        bad_ids = sorted(server.defect_ids[defect])

    evaluations = _evaluations(result)
    assert {key for key, e in evaluations.items() if not e.passed} == {check}
    failed = evaluations[check]
    assert failed.severity == severity
    assert failed.metadata["offending_rows"].value == len(bad_ids)
    assert failed.metadata["sample_ids"].value == bad_ids[:10]
    # the raw data still loads: one bad record does not abort the sync
    assert RAW_KEYS <= _materialized(result)
    leads = query(warehouse, "SELECT COUNT(DISTINCT id) FROM analytics_api.leads")[0][0]
    assert leads == len({record["id"] for record in server.records("leads")})
    if severity == dg.AssetCheckSeverity.ERROR:
        # blocking: no model that reads the table in this run; the others of the sync build
        table = check.split(":")[0].split("/")[-1]
        unblocked = {
            model.key
            for model in MODELS
            if model.key in JOB_KEYS and table not in {t.name for t in model.reads}
        }
        assert _materialized(result) == RAW_KEYS | unblocked
        assert not result.success
    else:
        assert _materialized(result) == JOB_KEYS
        assert result.success


def test_a_subset_of_checks_can_run_alone(sandbox: SandboxServer) -> None:
    use_api(sandbox)
    assert run_sync().success
    only = dg.AssetCheckKey(raw_asset_key(SYNC_TABLES[0]), "primary_key")
    job = dg.define_asset_job("only_pk", selection=dg.AssetSelection.checks(only))

    result = (
        dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            jobs=[job],
            resources={**defs.resources, **RESOURCES},
        )
        .resolve_job_def("only_pk")
        .execute_in_process(raise_on_error=False)
    )

    assert result.success
    assert list(_evaluations(result)) == [only.to_user_string()]
    assert _materialized(result) == set()


def _leads_checks_alone(instance: dg.DagsterInstance) -> dict[str, bool]:
    """The leads checks re-run alone, as from the UI, in ``instance``."""
    key = raw_asset_key(SYNC_TABLES[1])
    leads = [c for c in defs.asset_checks if any(k.asset_key == key for k in c.check_keys)]
    result = dg.materialize(
        leads,
        instance=instance,
        resources={**defs.resources, **RESOURCES},
        selection=dg.AssetSelection.all_asset_checks(),
        raise_on_error=False,
    )
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


def test_checks_rerun_where_the_sync_is_unknown_judge_the_latest_sync() -> None:
    """Without the sync's materialization (another instance), the latest sync's loads are
    found in the warehouse: not the rejected records' own load, not an older sync's rejects."""
    config = SandboxConfig(api_key=TEST_KEY, leads=300)
    with SandboxServer(config) as server:
        use_api(server)
        server.inject("leads", PatchRecord(4, ("id",), None), page=1)
        server.inject("leads", DuplicateRecord(), page=2)
        broken = run_sync()
        after_broken = _leads_checks_alone(dg.DagsterInstance.ephemeral())
        clean = run_sync()  # the cursor was held: every lead again, all of them fine
        after_clean = _leads_checks_alone(dg.DagsterInstance.ephemeral())

    in_run = {
        e.asset_check_key.name: e.passed
        for e in broken.get_asset_check_evaluations()
        if e.asset_key == raw_asset_key(SYNC_TABLES[1])
    }
    assert (in_run["primary_key"], in_run["rejected_records"]) == (False, False)
    assert (after_broken["primary_key"], after_broken["rejected_records"]) == (False, False)
    assert clean.success
    assert (after_clean["primary_key"], after_clean["rejected_records"]) == (True, True)
