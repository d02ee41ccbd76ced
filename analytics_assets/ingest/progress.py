"""Progress of a sync: pages and rows per resource, logged as they arrive."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from analytics_assets.api.paginator import PageCallback


class SyncProgress:
    """Counts pages and rows per resource and logs a line at most every ``interval_s``.

    Args:
        log: Where lines go (a Dagster run's ``context.log.info``).
        interval_s: Least time between two progress lines.
        clock: Monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        log: Callable[[str], None],
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._next_log = clock() + interval_s
        self.pages: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self._order: list[str] = []  # resources are read concurrently: name them in read order

    def page_callback(self, resource: str) -> PageCallback:
        """The callback the paginator of ``resource`` calls once per page."""
        if resource not in self._order:
            self._order.append(resource)

        def on_page(rows: int) -> None:
            with self._lock:
                self.pages[resource] = self.pages.get(resource, 0) + 1
                self.rows[resource] = self.rows.get(resource, 0) + rows
                now = self._clock()
                if now < self._next_log:
                    return
                self._next_log = now + self._interval_s
                line = self.describe()
            self._log(f"sync progress: {line}")

        return on_page

    def describe(self) -> str:
        """One line: ``users 1 pages / 25 rows; leads 12 pages / 1,200 rows``."""
        return "; ".join(
            f"{name} {self.pages[name]} pages / {self.rows[name]:,} rows"
            for name in self._order
            if name in self.pages
        )
