"""The raw tables' asset checks: one step evaluates every selected check in the warehouse.

Separate steps from the load (not checks inside the ingest multi-asset), so that checks can be
re-run alone from the UI, their time shows on their own, and a failing check never triggers the
ingest step's retries. One step per raw table: ERROR checks are blocking, and Dagster skips every
step after a failed one, so a shared step would let a failed check on leads stop a model that
reads only users and campaigns. The raw data stays loaded either way.
"""

from collections.abc import Iterator

import dagster as dg

from analytics_assets.api.records import REJECTED_TABLE
from analytics_assets.checks.rules import RULES, RULES_BY_NAME, Finding, Rule
from analytics_assets.ingest.specs import raw_asset_key
from analytics_assets.schema import TABLES, Table
from analytics_assets.settings import settings_from
from analytics_assets.warehouse.lock import WAREHOUSE_POOL
from analytics_assets.warehouse.resource import WarehouseResource
from analytics_assets.warehouse.sql import Warehouse, open_warehouse

SEVERITIES = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


def check_spec(table: Table, rule: Rule) -> dg.AssetCheckSpec:
    """The spec of ``rule`` on ``table``'s raw asset; ERROR rules block downstream assets."""
    return dg.AssetCheckSpec(
        name=rule.name,
        asset=raw_asset_key(table),
        description=f"{rule.description} ({rule.severity})",
        blocking=rule.severity == "ERROR",
    )


CHECK_SPECS: list[dg.AssetCheckSpec] = [
    check_spec(table, rule) for table in TABLES for rule in RULES if rule.applies_to(table)
]


def _metadata_value(value: object) -> object:
    return dg.MetadataValue.json(value) if isinstance(value, list | dict) else value


def check_result(key: dg.AssetCheckKey, rule: Rule, finding: Finding) -> dg.AssetCheckResult:
    """A Dagster check result carrying the finding as metadata."""
    metadata: dict[str, object] = {
        "offending_rows": finding.offending_rows,
        "sample_ids": dg.MetadataValue.json(finding.sample_ids),
        **{name: _metadata_value(value) for name, value in finding.details.items()},
    }
    if finding.problem:
        metadata["problem"] = finding.problem
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=finding.passed,
        severity=SEVERITIES[rule.severity],
        metadata=metadata,
    )


def latest_sync(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> tuple[tuple[str, ...] | None, str | None]:
    """The dlt loads and the run of the asset's latest materialization; Nones if unknown."""
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("dlt_load_ids") if materialization else None
    if event is None or value is None:
        return None, None
    loads = tuple(part.strip() for part in str(value.value).split(",") if part.strip())
    return loads, event.run_id


def newest_load(warehouse: Warehouse) -> tuple[str, ...]:
    """The newest completed sync load, for a table whose materializations this instance lacks
    (not the load of rejected records that follows a sync's own)."""
    tables = warehouse.tables()
    if "_dlt_loads" not in tables:
        return ()
    loads = warehouse.table("_dlt_loads")
    not_rejects = ""
    if REJECTED_TABLE in tables:
        rejected = warehouse.table(REJECTED_TABLE)
        not_rejects = f" AND load_id NOT IN (SELECT DISTINCT _dlt_load_id FROM {rejected})"
    newest = warehouse.scalar(f"SELECT MAX(load_id) FROM {loads} WHERE status = 0{not_rejects}")
    return (str(newest),) if newest else ()


def build_table_checks(table: Table) -> dg.AssetChecksDefinition:
    """The step evaluating ``table``'s checks: one per table, so that a failed blocking check
    stops only the models that read that table."""

    @dg.multi_asset_check(
        specs=[spec for spec in CHECK_SPECS if spec.asset_key == raw_asset_key(table)],
        can_subset=True,
        name=f"analytics_api_{table.name}_checks",
        pool=WAREHOUSE_POOL,
    )
    def table_checks(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        with open_warehouse(settings_from(warehouse), context.log.warning) as opened:
            loads, run_id = latest_sync(context.instance, raw_asset_key(table))
            loads = newest_load(opened) if loads is None else loads
            for key in sorted(context.selected_asset_check_keys, key=lambda k: k.name):
                rule = RULES_BY_NAME[key.name]
                yield check_result(key, rule, rule.evaluate(opened, table, loads, run_id))

    return table_checks


TABLE_CHECKS: list[dg.AssetChecksDefinition] = [build_table_checks(table) for table in TABLES]
"""One check step per raw table, evaluating its checks with set-based SQL."""
