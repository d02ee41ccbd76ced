"""Flagging deleted rows against a real DuckDB file and real dlt loads: what a read judges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest

from analytics_assets.schema import DELETED_AT
from analytics_assets.warehouse.deletions import ReadLoads, reconcile_deletions
from analytics_assets.warehouse.pipeline import analytics_pipeline, private_workdir
from analytics_assets_tests.conftest import query, settings_for_test

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ONE = 1.0  # flag however many are gone


@pytest.fixture
def pipeline() -> Iterator[dlt.Pipeline]:
    settings = settings_for_test()
    with private_workdir(settings) as workdir:
        yield analytics_pipeline(settings, workdir)


def tags(ids: list[str]) -> Any:
    """A dlt resource merging tags with ``ids``."""
    return dlt.resource(
        [{"id": row_id, "name": row_id.upper()} for row_id in ids],
        name="tags",
        primary_key="id",
        write_disposition="merge",
    )


def load(pipeline: dlt.Pipeline, ids: list[str]) -> tuple[str, ...]:
    """Merge tags with ``ids`` as one load; its load ids."""
    return tuple(pipeline.run(tags(ids)).loads_ids)


def flags(warehouse: Path) -> dict[str, datetime | None]:
    return dict(query(warehouse, f"SELECT id, {DELETED_AT} FROM analytics_api.tags"))


def test_rows_the_read_did_not_return_are_flagged_and_come_back_unflagged(
    pipeline: dlt.Pipeline, warehouse: Path
) -> None:
    load(pipeline, ["a", "b", "c"])
    started = datetime.now(UTC)
    ours = load(pipeline, ["b", "c"])

    done = reconcile_deletions(pipeline, ["tags"], ["tags"], ReadLoads(started, ours), AT, ONE)
    assert (done.flagged, done.deleted) == ({"tags": 1}, {"tags": 1})
    assert flags(warehouse) == {"a": AT, "b": None, "c": None}

    started = datetime.now(UTC)
    ours = load(pipeline, ["a", "b"])  # a is back, c is gone
    later = datetime(2026, 11, 30, tzinfo=UTC)
    assert reconcile_deletions(
        pipeline, ["tags"], ["tags"], ReadLoads(started, ours), later, ONE
    ).flagged == {"tags": 1}
    assert flags(warehouse) == {"a": None, "b": None, "c": later}


def test_a_read_not_complete_adds_the_column_and_flags_nothing(
    pipeline: dlt.Pipeline, warehouse: Path
) -> None:
    load(pipeline, ["a", "b"])
    started = datetime.now(UTC)
    ours = load(pipeline, ["b"])

    assert (
        reconcile_deletions(pipeline, ["tags"], [], ReadLoads(started, ours), AT, ONE).flagged == {}
    )
    assert flags(warehouse) == {"a": None, "b": None}


def test_rows_a_younger_read_wrote_meanwhile_are_not_judged(
    pipeline: dlt.Pipeline, warehouse: Path
) -> None:
    """Two runs outside the pool: ours read nothing (a complete, empty read) and, before it
    reconciled, a run that began after it loaded b and c. Only a, older than our read, goes."""
    load(pipeline, ["a"])
    started = datetime.now(UTC)
    load(pipeline, ["b", "c"])  # the other run's load, begun after our read

    assert reconcile_deletions(
        pipeline, ["tags"], ["tags"], ReadLoads(started, ()), AT, ONE
    ).flagged == {"tags": 1}
    assert flags(warehouse) == {"a": AT, "b": None, "c": None}


def test_a_table_never_created_is_skipped(pipeline: dlt.Pipeline) -> None:
    load(pipeline, ["a"])
    read = ReadLoads(datetime.now(UTC), ())
    done = reconcile_deletions(pipeline, ["tags", "users"], ["tags", "users"], read, AT, ONE)
    assert (done.flagged, done.deleted) == ({"tags": 1}, {"tags": 1})  # no users table


def test_rows_an_older_read_loaded_after_this_one_began_are_not_judged(
    pipeline: dlt.Pipeline, warehouse: Path
) -> None:
    """Two runs outside the pool: the other run's read began first (its load id is older),
    its load completed after ours began. Its rows are not ours to judge."""
    load(pipeline, ["a"])
    pipeline.extract(  # the other run's read: its load id is taken now
        dlt.resource(
            [{"id": "b", "name": "B"}], name="tags", primary_key="id", write_disposition="merge"
        )
    )
    started = datetime.now(UTC)
    pipeline.normalize()
    pipeline.load()  # ... its load completes after our read began

    assert reconcile_deletions(
        pipeline, ["tags"], ["tags"], ReadLoads(started, ()), AT, ONE
    ).flagged == {"tags": 1}
    assert flags(warehouse) == {"a": AT, "b": None}


@pytest.mark.parametrize(("age_s", "flagged"), [(3 * 86_400, {"a": AT}), (60, {"a": None})])
def test_rows_of_a_load_that_never_completed_are_judged_once_it_cannot_be_running(
    pipeline: dlt.Pipeline, warehouse: Path, age_s: int, flagged: dict[str, Any]
) -> None:
    """A run killed mid-load leaves rows whose load dlt never recorded: judged only when that
    load began longer ago than any run lives."""
    load(pipeline, ["a"])
    started = datetime.now(UTC)
    with pipeline.sql_client() as client:
        client.execute_sql(
            f"UPDATE {client.make_qualified_table_name('tags')} SET _dlt_load_id = %s",
            str(started.timestamp() - age_s),
        )

    reconcile_deletions(pipeline, ["tags"], ["tags"], ReadLoads(started, ()), AT, ONE)

    assert flags(warehouse) == flagged


@pytest.mark.parametrize(
    ("share", "flagged", "held_back"), [(0.5, {}, {"tags": 20}), (0.9, {"tags": 20}, {})]
)
def test_a_read_that_would_flag_more_than_the_share_flags_nothing_in_that_table(
    pipeline: dlt.Pipeline,
    warehouse: Path,
    share: float,
    flagged: dict[str, int],
    held_back: dict[str, int],
) -> None:
    """20 of 24 tags gone at once: 83 % of the table, as an empty or cut list looks."""
    ids = [f"t{n:02d}" for n in range(24)]
    load(pipeline, ids)
    started = datetime.now(UTC)
    ours = load(pipeline, ids[:4])

    done = reconcile_deletions(pipeline, ["tags"], ["tags"], ReadLoads(started, ours), AT, share)

    assert (done.flagged, done.held_back) == (flagged, held_back)
    assert sum(at is not None for at in flags(warehouse).values()) == sum(flagged.values())


def test_a_few_rows_are_flagged_whatever_their_share(
    pipeline: dlt.Pipeline, warehouse: Path
) -> None:
    """The only tag is gone: 100 %, but a table of a few rows must still be reconciled."""
    load(pipeline, ["a", "b", "c"])
    started = datetime.now(UTC)
    ours = load(pipeline, ["c"])

    done = reconcile_deletions(pipeline, ["tags"], ["tags"], ReadLoads(started, ours), AT, 0.5)

    assert (done.flagged, done.held_back) == ({"tags": 2}, {})
