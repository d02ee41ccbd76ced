"""The raw assets: two multi-assets run the dlt pipeline.

``analytics_api_raw`` reads the unpartitioned tables (users, leads, campaigns, campaign_leads
and the lookups) on every sync; ``analytics_api_activity`` reads events and replies by UTC day
(daily partitions; a backfill of a range is one run asking once per campaign for the range).
Built with ``@multi_asset`` over dagster-dlt's specs rather than ``@dlt_assets`` so that they
can carry a retry policy, which ``@dlt_assets`` does not take. Every error ends as one
``dg.Failure`` from ``failures.py``, the API key masked, raised ``from None``: the original
exception's text (an API's error body may echo the key) never reaches the event log.
"""

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import dagster as dg
import dlt as dlt_module

from analytics_assets.api.auth import FirstAnswers
from analytics_assets.api.children import VanishedParents
from analytics_assets.api.errors import IncompleteRead
from analytics_assets.api.http import ApiSession, HttpPolicy
from analytics_assets.api.ratelimit import RateLimiter
from analytics_assets.api.records import REJECTED_TABLE, SET_ASIDE_NOTE, RejectedRecords
from analytics_assets.api.redact import NO_SECRETS, Redactor
from analytics_assets.api.resource import AnalyticsApiResource
from analytics_assets.api.source import analytics_api_source, reads_in_full, top_level_reads
from analytics_assets.api.window import DayRange
from analytics_assets.ingest.failures import sync_failure
from analytics_assets.ingest.progress import SyncProgress
from analytics_assets.ingest.resource import AnalyticsDltResource
from analytics_assets.ingest.specs import AnalyticsDltTranslator, raw_asset_key, raw_asset_spec
from analytics_assets.schema import ACTIVITY_TABLES, SYNC_TABLES, Table
from analytics_assets.settings import (
    AutomationSettings,
    Settings,
    SettingsError,
    load_automation_settings,
    settings_from,
)
from analytics_assets.warehouse.deletions import (
    DEFAULT_MAX_DELETED_SHARE,
    ReadLoads,
    reconcile_deletions,
)
from analytics_assets.warehouse.lock import WAREHOUSE_POOL, wait_for_warehouse
from analytics_assets.warehouse.pipeline import (
    LOADER_FILE_FORMAT,
    analytics_pipeline,
    clear_rejected,
    load_rejected,
    private_workdir,
)
from analytics_assets.warehouse.repeats import remove_repeated_rows
from analytics_assets.warehouse.resource import WarehouseResource


class SyncConfig(dg.Config):
    """Run config of the raw assets."""

    full_refresh: bool = False
    """Read every lead instead of those updated since the last successful sync."""
    max_deleted_share: float = DEFAULT_MAX_DELETED_SHARE
    """A complete read that would flag more than this share of a table's rows as deleted flags
    none there and warns: an empty or cut list looks just like a mass deletion. 1 accepts it."""


def ingest_retry_policy(settings: AutomationSettings) -> dg.RetryPolicy:
    """Dagster retries of the whole sync, for outages longer than the request retries.

    Permanent errors (settings, auth, other 4xx, bad answers) raise
    ``Failure(allow_retries=False)`` and are not retried.
    """
    return dg.RetryPolicy(
        max_retries=settings.retry_max,
        delay=settings.retry_delay_s,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


def raw_asset(retry_policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    """The unpartitioned raw tables' multi-asset, ``analytics_api_raw``, with its step's retry
    policy."""

    @dg.multi_asset(
        name="analytics_api_raw",
        specs=[raw_asset_spec(table) for table in SYNC_TABLES],
        can_subset=True,
        pool=WAREHOUSE_POOL,
        retry_policy=retry_policy,
    )
    def analytics_api_raw(
        context: dg.AssetExecutionContext,
        config: SyncConfig,
        dlt: AnalyticsDltResource,
        api: AnalyticsApiResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        """Sync users, leads, campaigns, campaign_leads and the lookups with dlt."""
        yield from _guarded(context, dlt, api, warehouse, SYNC_TABLES, config, None)

    return analytics_api_raw


def activity_asset(
    retry_policy: dg.RetryPolicy, partitions: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    """``analytics_api_activity``: events and replies by UTC day, a range of days in one run."""

    @dg.multi_asset(
        name="analytics_api_activity",
        specs=[raw_asset_spec(table, partitions=partitions) for table in ACTIVITY_TABLES],
        can_subset=True,
        pool=WAREHOUSE_POOL,
        retry_policy=retry_policy,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def analytics_api_activity(
        context: dg.AssetExecutionContext,
        dlt: AnalyticsDltResource,
        api: AnalyticsApiResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        """Read the run's UTC days of events and replies (replies once per campaign)."""
        window = context.partition_time_window
        days = DayRange(window.start, window.end)
        context.log.info(f"reading {days.describe()} (UTC) of events and replies")
        yield from _guarded(context, dlt, api, warehouse, ACTIVITY_TABLES, SyncConfig(), days)

    return analytics_api_activity


def _guarded(
    context: dg.AssetExecutionContext,
    dlt: AnalyticsDltResource,
    api: AnalyticsApiResource,
    warehouse: WarehouseResource,
    tables: tuple[Table, ...],
    config: SyncConfig,
    days: DayRange | None,
) -> Iterator[dg.MaterializeResult]:
    redact = NO_SECRETS
    try:
        settings = settings_from(api, warehouse)
        redact = Redactor([settings.require_api_key()])
        selected = tuple(t for t in tables if raw_asset_key(t) in context.selected_asset_keys)
        yield from _sync(context, dlt, settings, redact, selected, config, days)
    except Exception as error:
        raise sync_failure(error, redact) from None


analytics_api_raw = raw_asset(ingest_retry_policy(load_automation_settings()))
"""The raw assets with the retry policy the environment sets when the code location loads."""


def _sync(
    context: dg.AssetExecutionContext,
    dlt: AnalyticsDltResource,
    settings: Settings,
    redact: Redactor,
    tables: tuple[Table, ...],
    config: SyncConfig,
    days: DayRange | None,
) -> Iterator[dg.MaterializeResult]:
    if not 0 <= config.max_deleted_share <= 1:  # NaN too
        raise SettingsError(
            f"max_deleted_share (run config) must be within 0..1, got {config.max_deleted_share}"
        )

    # Closures, not bound methods: dlt deep-copies its resources' configuration.
    def warn(message: str) -> None:
        context.log.warning(redact(message))

    incomplete: dict[str, list[str]] = {}
    rejected = RejectedRecords()

    def on_incomplete(resource: str, reason: str) -> None:
        incomplete.setdefault(resource, []).append(reason)
        warn(f"{resource}: the read is not known complete: {reason}")

    progress = SyncProgress(context.log.info)
    policy = HttpPolicy(
        settings.max_attempts, settings.backoff_factor, settings.timeout_s, settings.max_wait_s
    )
    limiter = RateLimiter(settings.requests_per_minute, settings.max_wait_s, log=warn)
    session = ApiSession(settings.base_url, policy, limiter, log=warn, redact=redact)
    first_answers = FirstAnswers(top_level_reads(tables), redact)
    vanished = VanishedParents(warn, redact)
    source = analytics_api_source(
        settings,
        settings.require_api_key(),
        session=session,
        on_page=progress.page_callback,
        full_refresh=config.full_refresh,
        first_answers=first_answers,
        on_incomplete=on_incomplete,
        redact=redact,
        rejected=rejected,
        tables=tables,
        days=days,
        vanished=vanished,
    )
    wait_for_warehouse(settings, warn)  # before any request: a held file fails the step
    with private_workdir(settings, context.run_id) as workdir:
        pipeline = analytics_pipeline(settings, workdir)
        if context.retry_number:  # a first attempt has no earlier attempt's rows to clear
            clear_rejected(pipeline, context.run_id)
        started = datetime.now(UTC)
        results = list(
            dlt.run(
                context=context,
                dlt_source=source,
                dlt_pipeline=pipeline,
                dagster_dlt_translator=AnalyticsDltTranslator(),
                loader_file_format=LOADER_FILE_FORMAT,
            )
        )
        read = ReadLoads(started, _load_ids(pipeline))  # before the rejected records' load
        repeats = remove_repeated_rows(pipeline, tables, read.load_ids)
        for name, count in repeats.items():
            warn(f"{name}: {count:,} row(s) repeated an id of the same read; one row per id kept")
        first_answers.raise_if_refused()  # a guard: the extract step raises this already
        if rejected.rows:
            load_rejected(pipeline, rejected.for_run(context.run_id))
        vanished.raise_if_endpoint_missing()
        _note_unread_children(
            tables, incomplete, rejected, vanished, days is not None, on_incomplete
        )
        if days is not None:
            _raise_if_days_incomplete(incomplete, days)
        deletions = _reconcile_deletions(
            context.log, pipeline, tables, config, incomplete, rejected, vanished, read
        )
    for result in results:
        yield _with_completeness(result, incomplete, rejected, vanished, redact, deletions, repeats)
    context.log.info(f"sync finished: {progress.describe()}")


def _load_ids(pipeline: dlt_module.Pipeline) -> tuple[str, ...]:
    """The load ids of the sync's own load (dlt's trace of the run that just ended): the
    rows it wrote carry them. None only when it normalized no row at all.

    Raises:
        RuntimeError: rows were normalized but no load id is known (deletions then cannot be
            told from this run's rows, so nothing is flagged).
    """
    trace = pipeline.last_trace
    load_info = trace.last_load_info if trace else None
    normalize_info = trace.last_normalize_info if trace else None
    load_ids = tuple(load_info.loads_ids) if load_info else ()
    if not load_ids and normalize_info and any(normalize_info.row_counts.values()):
        raise RuntimeError("dlt's trace names no load of this run's rows; nothing was reconciled")
    return load_ids


def _reconcile_deletions(
    log: dg.DagsterLogManager,
    pipeline: dlt_module.Pipeline,
    tables: tuple[Table, ...],
    config: SyncConfig,
    incomplete: Mapping[str, list[str]],
    rejected: RejectedRecords,
    vanished: VanishedParents,
    read: ReadLoads,
) -> dict[str, dict[str, dg.MetadataValue]]:
    """Flag the rows the API no longer returns in the tables this run read in full and known
    complete (warehouse/deletions.py); per table, whether it did, and the rows flagged now,
    held back and in all, as metadata. A per-campaign read with a campaign that answered 404
    flags nothing: the 404 may have been a passing error, and a deleted campaign's rows are
    flagged by the next sync, which no longer lists it."""
    in_full = [table.name for table in tables if table.window is None]
    if not in_full:
        return {}
    complete = [
        table.name
        for table in tables
        if reads_in_full(table, config.full_refresh)
        and not incomplete.get(table.name)
        and not rejected.count(table.name)
        and not vanished.count(table.name)
    ]
    done = reconcile_deletions(
        pipeline, in_full, complete, read, datetime.now(UTC), config.max_deleted_share
    )
    for name, count in done.flagged.items():
        if count:
            log.info(f"{name}: {count:,} row(s) the API no longer returns marked deleted")
    for name, count in done.held_back.items():
        log.warning(
            f"{name}: {count:,} row(s) the API no longer returns were NOT marked deleted: more "
            f"than {config.max_deleted_share:.0%} of the table at once looks like a cut or "
            "empty answer. If the API really lost them, run a full refresh with run config "
            '{"ops": {"analytics_api_raw": {"config": {"full_refresh": true, '
            '"max_deleted_share": 1}}}}'
        )
    return {
        name: {
            "deletions_reconciled": dg.MetadataValue.bool(name in done.flagged),
            "deleted_now": dg.MetadataValue.int(done.flagged.get(name, 0)),
            "deletions_held_back": dg.MetadataValue.int(done.held_back.get(name, 0)),
            "deleted_rows": dg.MetadataValue.int(done.deleted.get(name, 0)),
        }
        for name in in_full
    }


def _note_unread_children(
    tables: tuple[Table, ...],
    incomplete: Mapping[str, list[str]],
    rejected: RejectedRecords,
    vanished: VanishedParents,
    by_days: bool,
    on_incomplete: Callable[[str, str], None],
) -> None:
    """Per-parent reads that did not happen are not complete reads: those of the parents a
    parent read not known complete may have missed (a repeated page, a redirect), of a parent
    set aside (its children were never asked for), and, for days no later run reads again, of
    a parent that answered 404 (deleted, or a passing error: the retry tells, as it lists
    parents anew)."""
    for table in tables:
        if table.parent is None:
            continue
        parent = table.parent.table
        missed = [reason for reason in incomplete.get(parent, ()) if SET_ASIDE_NOTE not in reason]
        if missed:
            on_incomplete(
                table.name,
                f"the {parent} read is not known complete, so the {table.name} of {parent} it "
                "missed were not read",
            )
        ids = [str(row["record_id"]) for row in rejected.rows if row["resource"] == parent]
        if ids:  # re-reading will not help: the blocking rejected_records check names them
            on_incomplete(
                table.name,
                f"{len(ids)} {parent} record(s) ({', '.join(ids[:10])}) {SET_ASIDE_NOTE}, so "
                f"their {table.name} were not read",
            )
        if by_days and vanished.count(table.name):
            on_incomplete(
                table.name,
                f"{vanished.count(table.name)} {parent} answered 404 for their {table.name}; "
                "read again to tell a deleted one from a passing error",
            )


def _raise_if_days_incomplete(incomplete: dict[str, list[str]], days: DayRange) -> None:
    """A day's read that is not known complete must not count as materialized: no cursor
    will read it again, so the step fails (and is retried) instead. The read's own records
    set aside are the exception: re-reading cannot fix them; the blocking rejected_records
    check names them.
    """
    unsure = {
        resource: [reason for reason in reasons if SET_ASIDE_NOTE not in reason]
        for resource, reasons in incomplete.items()
    }
    unsure = {resource: reasons for resource, reasons in unsure.items() if reasons}
    if unsure:
        detail = "; ".join(f"{name}: {'; '.join(reasons)}" for name, reasons in unsure.items())
        raise IncompleteRead(
            f"the read of {days.describe()} is not known complete ({detail}); the rows read are "
            "loaded, the days are not marked materialized and are read again on retry"
        )


def _with_completeness(
    result: dg.MaterializeResult,
    incomplete: dict[str, list[str]],
    rejected: RejectedRecords,
    vanished: VanishedParents,
    redact: Callable[[str], str],
    deletions: Mapping[str, Mapping[str, dg.MetadataValue]],
    repeats: Mapping[str, int],
) -> dg.MaterializeResult:
    """``result`` plus whether its table's read is known complete, and if not, why; its row
    count less the repeated rows removed after dagster-dlt counted them."""
    key = result.asset_key
    name = key.path[-1] if key else ""
    reasons = incomplete.get(name, [])
    metadata = dict(result.metadata or {})
    counted = metadata.get("dagster/row_count")
    if isinstance(counted, dg.IntMetadataValue) and counted.value is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(counted.value - repeats.get(name, 0))
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            **metadata,
            "repeated_rows_removed": dg.MetadataValue.int(repeats.get(name, 0)),
            "read_complete": not reasons,
            "incomplete_reasons": dg.MetadataValue.text(redact("\n".join(reasons)) or "none"),
            REJECTED_TABLE: dg.MetadataValue.int(rejected.count(name)),
            **(
                {"parents_gone": dg.MetadataValue.int(vanished.count(name))}
                if vanished.count(name)
                else {}
            ),
            **deletions.get(name, {}),
        },
        check_results=result.check_results,
        data_version=result.data_version,
        tags=result.tags,
    )
