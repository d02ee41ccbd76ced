"""Modeled assets: tables built in the warehouse by SQL over the raw analytics_api tables.

Each model is one SELECT in ``sql/<name>.sql``, in SQL that DuckDB and PostgreSQL both run, plus
one ``Model`` below: the only place its columns are named, typed and described. Each model is
its own asset and op (``analytics_models_<name>``) that waits only for the raw tables it reads
and their checks. All share the raw assets' pool, because DuckDB admits one writing process.
"""

from dataclasses import dataclass
from importlib.resources import files

import dagster as dg

from analytics_assets.ingest.specs import DAGSTER_TYPES, OWNERS, raw_asset_key
from analytics_assets.schema import API_NAME, CAMPAIGNS, LEADS, USERS, Table
from analytics_assets.settings import configured_destination, settings_from
from analytics_assets.warehouse.lock import WAREHOUSE_POOL
from analytics_assets.warehouse.resource import WarehouseResource
from analytics_assets.warehouse.sql import Warehouse, open_warehouse

KEY_PREFIX = "analytics"
"""The models' asset key prefix: ``analytics/<name>``."""
SCHEMA = "analytics_models"
"""The warehouse schema the models are built in. Not ``analytics``: DuckDB names a file's
catalog after it, so with the default ``data/analytics.duckdb`` a bare ``analytics.<name>``
would be ambiguous in the DuckDB CLI."""
GROUP = "models"
OP_PREFIX = "analytics_models"
"""Each model's op is ``analytics_models_<name>``."""
KINDS = {"sql"}  # plus the configured destination
SQL_DIR = files(__package__).joinpath("sql")  # a handle only: files are read at run time


@dataclass(frozen=True)
class ModelColumn:
    """One column of a model's result, in the order the SELECT returns it."""

    name: str
    type: str  # a Dagster TableColumn type: string, int, float, timestamp
    description: str


@dataclass(frozen=True)
class Model:
    """A table built by ``sql/<name>.sql`` from the raw tables it ``reads``."""

    name: str
    description: str
    reads: tuple[Table, ...]
    columns: tuple[ModelColumn, ...]

    @property
    def key(self) -> dg.AssetKey:
        """``analytics/<name>``."""
        return dg.AssetKey([KEY_PREFIX, self.name])

    @property
    def table_name(self) -> str:
        """``analytics_models.<name>``, the warehouse table."""
        return f"{SCHEMA}.{self.name}"

    @property
    def column_schema(self) -> dg.TableSchema:
        """The UI's column docs, derived from ``columns``."""
        return dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type, c.description) for c in self.columns]
        )

    def select_sql(self) -> str:
        """The model's SELECT, read from the package (so it ships with the code)."""
        return SQL_DIR.joinpath(f"{self.name}.sql").read_text(encoding="utf-8").strip()


def _copied(table: Table, column: str, name: str | None = None) -> ModelColumn:
    """A column passed through from a raw table, keeping the description schema.py gives it."""
    declared = table.column(column)
    return ModelColumn(name or column, DAGSTER_TYPES[declared.type], declared.description)


_STATS = (
    ("contacted", "stats__prospects_contacted"),
    ("reached", "stats__prospects_reached"),
    ("opened", "stats__prospects_opened"),
    ("replied", "stats__prospects_replied"),
    ("bounced", "stats__prospects_bounced"),
    ("opted_out", "stats__prospects_optedout"),
)

CAMPAIGN_PERFORMANCE = Model(
    name="campaign_performance",
    description=(
        "One row per campaign: its creator and delivery funnel with open, reply and bounce "
        "rates. Rates are null when their denominator is 0 or unknown."
    ),
    reads=(USERS, CAMPAIGNS),
    columns=(
        _copied(CAMPAIGNS, "id", "campaign_id"),
        _copied(CAMPAIGNS, "name", "campaign_name"),
        ModelColumn(
            "creator_name",
            "string",
            "Creator's name from users; the campaign's own copy if the user is absent.",
        ),
        ModelColumn(
            "creator_email",
            "string",
            "Creator's email from users; the campaign's own copy if the user is absent.",
        ),
        *(_copied(CAMPAIGNS, raw, name) for name, raw in _STATS),
        ModelColumn("open_rate", "float", "opened / reached; null when reached is 0 or null."),
        ModelColumn(
            "reply_rate", "float", "replied / contacted; null when contacted is 0 or null."
        ),
        ModelColumn(
            "bounce_rate", "float", "bounced / contacted; null when contacted is 0 or null."
        ),
    ),
)

OWNER_PIPELINE = Model(
    name="owner_pipeline",
    description=(
        "One row per user: the leads they own and how those leads engaged. Users who own no "
        "leads appear with zero counts."
    ),
    reads=(USERS, LEADS),
    columns=(
        _copied(USERS, "id", "user_id"),
        _copied(USERS, "name", "user_name"),
        _copied(USERS, "email", "user_email"),
        ModelColumn("leads_owned", "int", "Leads the user owns."),
        ModelColumn(
            "leads_contacted", "int", "Owned leads emailed at least once (sent_count > 0)."
        ),
        ModelColumn(
            "replies", "int", "Replies from owned leads (sum of replied_count; 0 when none)."
        ),
        ModelColumn("bounces", "int", "Owned leads whose email bounced."),
        ModelColumn("opt_outs", "int", "Owned leads who opted out."),
        ModelColumn(
            "reply_rate",
            "float",
            "Contacted leads that replied (replied_count > 0) / leads_contacted; "
            "null when no lead was contacted.",
        ),
        ModelColumn(
            "latest_last_sent_at",
            "timestamp",
            "When an owned lead was last emailed; null when none was.",
        ),
    ),
)

MODELS: tuple[Model, ...] = (CAMPAIGN_PERFORMANCE, OWNER_PIPELINE)
MODEL_KEYS: tuple[dg.AssetKey, ...] = tuple(model.key for model in MODELS)


def model_spec(model: Model) -> dg.AssetSpec:
    """The asset spec of one model, depending on the raw assets it reads."""
    return dg.AssetSpec(
        key=model.key,
        description=model.description,
        deps=[raw_asset_key(table) for table in model.reads],
        group_name=GROUP,
        owners=list(OWNERS),
        kinds={*KINDS, configured_destination()},
        metadata={
            "dagster/column_schema": model.column_schema,
            "dagster/table_name": model.table_name,
        },
    )


class RawTablesMissing(Exception):
    """Raw tables a model reads were never loaded."""


def source_ctes(warehouse: Warehouse, model: Model, loaded_empty: set[str]) -> str:
    """``WITH users AS (...), ...``: the raw tables the model's SELECT reads by bare name.

    A raw table that dlt has not created because its last load had no rows (an account with
    no campaigns yet) is stood in for by an empty relation with the declared columns, so the
    model is built, empty, instead of failing.

    Raises:
        RawTablesMissing: a raw table is missing and was never loaded either.
    """
    existing = warehouse.tables()
    missing = [t for t in model.reads if t.name not in existing and t.name not in loaded_empty]
    if missing:
        raise RawTablesMissing(", ".join(f"{API_NAME}/{table.name}" for table in missing))
    parts = []
    for table in model.reads:
        if table.name in existing:
            body = f"SELECT * FROM {warehouse.table(table.name)}"
        else:
            columns = ", ".join(
                f"CAST(NULL AS {warehouse.sql_type(c.type)}) AS {warehouse.column(c.name)}"
                for c in table.columns
            )
            body = f"SELECT {columns} WHERE 1 = 0"
        parts.append(f"{table.name} AS ({body})")
    return "WITH " + ",\n".join(parts)


def build_model(warehouse: Warehouse, model: Model, loaded_empty: set[str]) -> int:
    """(Re)build the model's table in one transaction; returns its row count.

    DROP + CREATE TABLE AS rather than CREATE OR REPLACE, which PostgreSQL lacks for tables;
    one transaction, so a build that fails leaves the previous table in place.
    """
    client = warehouse.client
    schema = warehouse.other_schema_path(SCHEMA)
    table = warehouse.other_schema_path(SCHEMA, model.name)
    select = f"{source_ctes(warehouse, model, loaded_empty)}\n{model.select_sql()}"
    client.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    with client.begin_transaction():
        client.execute_sql(f"DROP TABLE IF EXISTS {table}")
        client.execute_sql(f"CREATE TABLE {table} AS\n{select}")
        rows = client.execute_sql(f"SELECT COUNT(*) FROM {table}")
    return int(rows[0][0]) if rows else 0


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
    """Build ``model`` in the warehouse; its row count, table name and column docs as metadata."""
    loaded_empty = _loaded_empty(context, model)
    with open_warehouse(settings_from(resource), context.log.warning) as warehouse:
        try:
            row_count = build_model(warehouse, model, loaded_empty)
        except RawTablesMissing as missing:
            raise dg.Failure(
                description=(
                    f"{model.table_name} reads tables that were never loaded: materialize "
                    f"{missing} first."
                ),
                allow_retries=False,
            ) from missing
    context.log.info(f"built {model.table_name}: {row_count:,} rows")
    return dg.MaterializeResult(
        asset_key=model.key,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(row_count),
            "dagster/table_name": model.table_name,
            "dagster/column_schema": model.column_schema,
        },
    )


def model_asset(model: Model) -> dg.AssetsDefinition:
    """The model's own asset and op, ``analytics_models_<name>``, in the warehouse pool.

    One op per model, so that no model waits for tables it does not read: Dagster does not run
    an op after a step it waits for failed, and a failed blocking check fails its step.
    """

    @dg.multi_asset(
        name=f"{OP_PREFIX}_{model.name}",
        specs=[model_spec(model)],
        pool=WAREHOUSE_POOL,
        description=f"Build {model.table_name} from the raw analytics_api tables it reads.",
    )
    def _model(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        return materialize_model(context, model, warehouse)

    return _model


MODEL_ASSETS: tuple[dg.AssetsDefinition, ...] = tuple(model_asset(model) for model in MODELS)
"""One asset definition per model, in the order of ``MODELS``."""
