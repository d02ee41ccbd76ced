"""Runs analytics_api_sync in a child process that a test can kill -9.

With ``CRASH_PAUSE=load`` the child writes ``CRASH_MARKER`` and stalls just before dlt marks its
load complete (after the data has been merged, before the load is recorded), the narrowest
window in which a crash could leave the warehouse and dlt's state disagreeing. With
``CRASH_PAUSE=flagging`` it stalls right after the first UPDATE that flags deleted rows, inside
the transaction that flags them all. ``CRASH_JOB=full_refresh`` runs a full refresh.
"""

import os
import sys
import time
from pathlib import Path
from typing import Any


def _pause_before_completing_loads(marker: Path) -> None:
    from dlt.destinations.job_client_impl import SqlJobClientBase

    def complete_load(self: Any, load_id: str) -> None:
        marker.write_text(load_id)
        time.sleep(600)

    SqlJobClientBase.complete_load = complete_load  # type: ignore[method-assign]


def _pause_after_flagging_one_table(marker: Path) -> None:
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

    execute_sql = DuckDbSqlClient.execute_sql

    def flag_then_stall(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        result = execute_sql(self, sql, *args, **kwargs)
        if sql.startswith("UPDATE") and "_deleted_at" in sql:
            marker.write_text(sql)
            time.sleep(600)
        return result

    DuckDbSqlClient.execute_sql = flag_then_stall  # type: ignore[method-assign]


def main() -> int:
    pause = os.environ.get("CRASH_PAUSE")
    if pause == "load":
        _pause_before_completing_loads(Path(os.environ["CRASH_MARKER"]))
    elif pause == "flagging":
        _pause_after_flagging_one_table(Path(os.environ["CRASH_MARKER"]))
    from analytics_assets.automation import FULL_REFRESH_CONFIG
    from analytics_assets_tests.conftest import run_sync

    full = os.environ.get("CRASH_JOB") == "full_refresh"
    result = run_sync(run_config=FULL_REFRESH_CONFIG) if full else run_sync()
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
