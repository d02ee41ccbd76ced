"""Runs analytics_api_sync in a child process that a test can kill -9.

With ``CRASH_PAUSE=load`` the child writes ``CRASH_MARKER`` and stalls just before dlt marks its
load complete (after the data has been merged, before the load is recorded), the narrowest
window in which a crash could leave the warehouse and dlt's state disagreeing.
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


def main() -> int:
    if os.environ.get("CRASH_PAUSE") == "load":
        _pause_before_completing_loads(Path(os.environ["CRASH_MARKER"]))
    from analytics_assets_tests.conftest import run_sync

    return 0 if run_sync().success else 1


if __name__ == "__main__":
    sys.exit(main())
