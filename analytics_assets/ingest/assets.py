"""The raw assets: one multi-asset runs the dlt pipeline for users, leads and campaigns.

Built with ``@multi_asset`` over dagster-dlt's specs rather than ``@dlt_assets`` so that later
work can attach checks and a retry policy, which ``@dlt_assets`` does not take.
"""

from collections.abc import Iterator

import dagster as dg

from analytics_assets.api.auth import FirstAnswers
from analytics_assets.api.http import ApiClient, HttpPolicy
from analytics_assets.api.ratelimit import RateLimiter
from analytics_assets.api.source import analytics_api_source
from analytics_assets.ingest.failures import sync_failure
from analytics_assets.ingest.pipeline import LOADER_FILE_FORMAT, analytics_pipeline
from analytics_assets.ingest.progress import SyncProgress
from analytics_assets.ingest.resource import AnalyticsDltResource
from analytics_assets.ingest.specs import AnalyticsDltTranslator, raw_asset_key, raw_asset_spec
from analytics_assets.schema import TABLES
from analytics_assets.settings import (
    MissingApiKeyError,
    load_automation_settings,
    load_settings,
)
from analytics_assets.warehouse import wait_for_warehouse


class SyncConfig(dg.Config):
    """Run config of the raw assets."""

    full_refresh: bool = False
    """Read every lead instead of those updated since the last successful sync."""


WAREHOUSE_POOL = "analytics_warehouse"
"""Concurrency pool of everything that writes the warehouse (DuckDB allows one writer)."""


def ingest_retry_policy() -> dg.RetryPolicy:
    """Dagster retries of the whole sync, for outages longer than dlt's request retries.

    Permanent errors (auth, other 4xx, bad answers) raise ``Failure(allow_retries=False)`` and
    are not retried.
    """
    settings = load_automation_settings()
    return dg.RetryPolicy(
        max_retries=settings.retry_max,
        delay=settings.retry_delay_s,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


@dg.multi_asset(
    name="analytics_api_raw",
    specs=[raw_asset_spec(table) for table in TABLES],
    can_subset=True,
    pool=WAREHOUSE_POOL,
    retry_policy=ingest_retry_policy(),
)
def analytics_api_raw(
    context: dg.AssetExecutionContext, config: SyncConfig, dlt: AnalyticsDltResource
) -> Iterator[dg.MaterializeResult]:
    """Sync users, leads and campaigns from the API into the warehouse with dlt."""
    settings = load_settings()
    try:
        api_key = settings.require_api_key()
    except MissingApiKeyError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    progress = SyncProgress(context.log.info)
    policy = HttpPolicy(settings.max_attempts, settings.backoff_factor, settings.timeout_s)
    client = ApiClient(policy, RateLimiter(settings.requests_per_minute))
    selected = context.selected_asset_keys
    first_answers = FirstAnswers(t.name for t in TABLES if raw_asset_key(t) in selected)
    source = analytics_api_source(
        settings,
        api_key,
        session=client.session,
        on_page=progress.page_callback,
        full_refresh=config.full_refresh,
        first_answers=first_answers,
    )
    try:
        wait_for_warehouse(settings)  # before any request: a held DuckDB file fails the step
        yield from dlt.run(
            context=context,
            dlt_source=source,
            dlt_pipeline=analytics_pipeline(settings),
            dagster_dlt_translator=AnalyticsDltTranslator(),
            loader_file_format=LOADER_FILE_FORMAT,
        )
        first_answers.raise_if_refused()  # a guard: the extract step raises this already
    except Exception as error:  # kinds sync_failure does not know are re-raised as they are
        failure = sync_failure(error, api_key)
        if failure is None:
            raise
        raise failure from error
    context.log.info(f"sync finished: {progress.describe()}")
