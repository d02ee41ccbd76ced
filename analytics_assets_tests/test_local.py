"""`make demo`: an offline sync and a week of activity against the sandbox into DuckDB, rows
printed per table."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics_assets.local import DEMO_DAYS, demo, last_days
from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.schema import TABLES
from analytics_assets_tests.conftest import query


def test_demo_syncs_the_sandbox_and_prints_rows_per_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The default file name: DuckDB then names its catalog `analytics`, like the models' schema.
    warehouse = tmp_path / "analytics.duckdb"
    # `make demo` reads the environment, as a user's shell sets it.
    monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("ANALYTICS_DLT_DIR", str(tmp_path / "dlt"))

    assert demo() == 0

    out = capsys.readouterr().out
    first, last = last_days(DEMO_DAYS)
    assert f"synced, and events and replies of {first}..{last} (UTC)" in out
    # the same data, generated apart: every synced table whole, the activity of the last 7 days
    server = SandboxServer(SandboxConfig())
    end = date.fromisoformat(last) + timedelta(days=1)
    expected = {
        table.name: len(
            server.records_in_days(table.name, date.fromisoformat(first), end)
            if table.window
            else server.records(table.name)
        )
        for table in TABLES
    }
    assert expected["users"] == 25 and expected["leads"] == 2500 and expected["campaigns"] == 40
    for table, count in expected.items():
        assert query(warehouse, f"SELECT COUNT(*) FROM analytics_api.{table}") == [(count,)]
        assert f"analytics_api.{table:<14} {count:>8,}" in out
    models = {
        "campaign_performance": 40,
        "owner_pipeline": 25,
        "campaign_funnel": 40,
        # one row per day, campaign and event type (or reply) of the week's events and replies
        "daily_activity": len(
            {
                (e["created_at"][:10], e["data"].get("campaign_id"), e["event_type"])
                for e in server.records_in_days("events", date.fromisoformat(first), end)
            }
            | {
                (r["sent_at"][:10], r["campaign_id"], "reply")
                for r in server.records_in_days("replies", date.fromisoformat(first), end)
                if r["sent_at"]
            }
        ),
    }
    for name, count in models.items():
        assert query(warehouse, f"SELECT COUNT(*) FROM analytics_models.{name}") == [(count,)]
        assert f"analytics_models.{name:<20} {count:>8,}" in out
    replies = "SELECT SUM(replies) FROM analytics_models.campaign_funnel"
    assert query(warehouse, replies) == [(expected["replies"],)]  # the week's, read first
