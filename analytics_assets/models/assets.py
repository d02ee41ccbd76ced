"""Modeled assets: tables built in the warehouse by SQL over the raw analytics_api tables.

Each model (``catalog.py``) is its own asset and op (``analytics_models_<name>``) that waits
only for the raw tables it reads and their checks. All share the raw assets' pool, because
DuckDB admits one writing process. A model partitioned by day rebuilds exactly the days of its
run (a range in one run); the others are rebuilt whole. Every materialization shows the model's
top rows (``preview``), its row count and its column lineage to the raw columns.
"""

import dagster as dg

from analytics_assets.api.window import DayRange
from analytics_assets.ingest.specs import OWNERS, raw_asset_key
from analytics_assets.models.build import RawTablesMissing, build_days, build_model, preview
from analytics_assets.models.catalog import MODELS
from analytics_assets.models.model import Model
from analytics_assets.settings import configured_destination, settings_from
from analytics_assets.warehouse.lock import WAREHOUSE_POOL
from analytics_assets.warehouse.resource import WarehouseResource
from analytics_assets.warehouse.sql import open_warehouse

GROUP = "models"
OP_PREFIX = "analytics_models"
"""Each model's op is ``analytics_models_<name>``."""
KINDS = {"sql"}  # plus the configured destination
MODEL_KEYS: tuple[dg.AssetKey, ...] = tuple(model.key for model in MODELS)
DAILY_MODEL_KEYS: tuple[dg.AssetKey, ...] = tuple(m.key for m in MODELS if m.day_column)


def model_spec(model: Model, partitions: dg.PartitionsDefinition | None = None) -> dg.AssetSpec:
    """The asset spec of one model, depending on the raw assets it reads."""
    return dg.AssetSpec(
        key=model.key,
        description=model.description,
        deps=[raw_asset_key(table) for table in model.reads],
        group_name=GROUP,
        owners=list(OWNERS),
        kinds={*KINDS, configured_destination()},
        partitions_def=partitions if model.day_column else None,
        metadata={
            "dagster/column_schema": model.column_schema,
            "dagster/column_lineage": model.column_lineage,
            "dagster/table_name": model.table_name,
        },
    )


def _loaded_empty(context: dg.AssetExecutionContext, model: Model) -> set[str]:
    """Tables the model reads whose latest materialization loaded nothing (so no table exists)."""
    names = set()
    for table in model.reads:
        event = context.instance.get_latest_materialization_event(raw_asset_key(table))
        materialization = event.asset_materialization if event else None
        row_count = materialization.metadata.get("dagster/row_count") if materialization else None
        if row_count is not None and row_count.value == 0:
            names.add(table.name)
    return names


def materialize_model(
    context: dg.AssetExecutionContext, model: Model, resource: WarehouseResource
) -> dg.MaterializeResult:
    """Build ``model`` (or the run's days of it) in the warehouse; its row count, top rows,
    table name, column docs and column lineage as metadata."""
    loaded_empty = _loaded_empty(context, model)
    days = None
    if model.day_column:
        window = context.partition_time_window
        days = DayRange(window.start, window.end)
    with open_warehouse(settings_from(resource), context.log.warning) as warehouse:
        try:
            if days is None:
                row_count = build_model(warehouse, model, loaded_empty)
            else:
                row_count = build_days(warehouse, model, loaded_empty, days)
        except RawTablesMissing as missing:
            raise dg.Failure(
                description=(
                    f"{model.table_name} reads tables that were never loaded: materialize "
                    f"{missing} first."
                ),
                allow_retries=False,
            ) from missing
        top = preview(warehouse, model, days)
    scope = f" for {days.describe()}" if days else ""
    context.log.info(f"built {model.table_name}{scope}: {row_count:,} rows")
    return dg.MaterializeResult(
        asset_key=model.key,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(row_count),
            "preview": dg.MetadataValue.table(
                records=[dg.TableRecord(row) for row in top], schema=model.column_schema
            ),
            "dagster/table_name": model.table_name,
            "dagster/column_schema": model.column_schema,
            "dagster/column_lineage": model.column_lineage,
        },
    )


def model_asset(
    model: Model, partitions: dg.PartitionsDefinition | None = None
) -> dg.AssetsDefinition:
    """The model's own asset and op, ``analytics_models_<name>``, in the warehouse pool.

    One op per model, so that no model waits for tables it does not read: Dagster does not run
    an op after a step it waits for failed, and a failed blocking check fails its step. A model
    by day takes ``partitions`` (those of the daily raw tables) and builds a range of days in
    one run.
    """
    by_day = model.day_column is not None

    @dg.multi_asset(
        name=f"{OP_PREFIX}_{model.name}",
        specs=[model_spec(model, partitions)],
        pool=WAREHOUSE_POOL,
        description=f"Build {model.table_name} from the raw analytics_api tables it reads.",
        backfill_policy=dg.BackfillPolicy.single_run() if by_day else None,
    )
    def _model(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        return materialize_model(context, model, warehouse)

    return _model


def model_assets(partitions: dg.PartitionsDefinition) -> tuple[dg.AssetsDefinition, ...]:
    """One asset definition per model, in the order of ``MODELS``; ``partitions`` for those by
    day."""
    return tuple(model_asset(model, partitions) for model in MODELS)
