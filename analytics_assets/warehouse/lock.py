"""DuckDB admits one writing process: the pool every writer takes turns on, and a wait for
another process to let go of the file.

Dagster's pool ``WAREHOUSE_POOL`` keeps this project's steps from writing at once; the lock wait
covers the hand-over (a step's process lets go of the file a moment after it reported success)
and anything else holding the file, e.g. a DuckDB CLI.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from analytics_assets.exceptions import exception_chain
from analytics_assets.settings import Settings, SettingsError

WAREHOUSE_POOL = "analytics_warehouse"
"""Concurrency pool of everything that writes the warehouse (DuckDB allows one writer)."""
DUCKDB_LOCK_CONFLICT = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)": '
    r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)"
)
"""DuckDB's error when another process has the file open (it admits one writing process)."""


class WarehouseInUseError(RuntimeError):
    """The DuckDB file is held by another process."""


def describe_lock_conflict(exc: BaseException) -> str | None:
    """What to tell a person when ``exc`` (or its causes) is DuckDB's lock conflict, else None.

    dlt reports it as a connection failure that suggests checking credentials and the internet
    connection, which is the wrong lead for a file another process holds.
    """
    for error in exception_chain(exc):
        match = DUCKDB_LOCK_CONFLICT.search(str(error))
        if match:
            return (
                f"the DuckDB file {match['path']} is open in another process "
                f"({match['holder']}, PID {match['pid']}), and DuckDB admits one writing process. "
                "Close that process (e.g. a DuckDB CLI or notebook holding the file) or wait "
                "for it to finish; this project's own runs already take turns on the "
                "analytics_warehouse pool."
            )
    return None


def wait_for_duckdb_file(
    path: Path,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 0.1,
    log: Callable[[str], None] | None = None,
) -> None:
    """Return once no other process holds the DuckDB file at ``path``, or raise after a while.

    DuckDB admits one writing process and fails at once on a held file. Dagster's pool hands
    the warehouse to the next step when the previous one reports success, moments before that
    process exits and DuckDB's lock is released; a DuckDB CLI may hold the file too. Polls with
    a read-only open (which also fails while another process writes). A missing file is free.

    Raises:
        WarehouseInUseError: still held after ``timeout_s``, naming the file and its holder.
        SettingsError: the path is not a DuckDB database at all (a directory, another file).
    """
    import duckdb  # not at import time: the code location loads without it

    deadline = time.monotonic() + timeout_s
    logged = False
    while path.exists():
        try:
            duckdb.connect(str(path), read_only=True).close()
            return
        except duckdb.Error as error:
            conflict = describe_lock_conflict(error)
            if conflict is None:  # not another process's lock: no wait will help
                raise SettingsError(
                    f"ANALYTICS_DUCKDB_PATH: {path} cannot be opened as a DuckDB database "
                    f"({type(error).__name__}: {str(error).splitlines()[0]}); point it at a "
                    "DuckDB file or at a path that does not exist yet"
                ) from None
            if time.monotonic() >= deadline:
                raise WarehouseInUseError(
                    f"{conflict} (waited {timeout_s:g} s; ANALYTICS_DUCKDB_LOCK_WAIT_S)"
                ) from error
            if log is not None and not logged:
                logged = True
                log(f"waiting up to {timeout_s:g} s (ANALYTICS_DUCKDB_LOCK_WAIT_S): {conflict}")
        sleep(poll_s)


def wait_for_warehouse(settings: Settings, log: Callable[[str], None] | None = None) -> None:
    """On DuckDB, ``wait_for_duckdb_file`` for the configured file; other warehouses: return."""
    if settings.destination == "duckdb":
        wait_for_duckdb_file(settings.duckdb_path, settings.duckdb_lock_wait_s, log=log)
