"""Per-parent reads (``/campaigns/{campaign_id}/leads``) whose parent vanished meanwhile.

A campaign deleted between the campaigns page that listed it and its child request answers 404.
That is not a failed sync: the campaign and what hung off it are gone, so ``VanishedParents``
(a dlt ``response_actions`` hook, given to child resources only) ends that one read with a
warning naming the URL, and the other campaigns' reads go on. A 404 on a top-level endpoint
still fails the run. When *every* parent answers 404 the endpoint itself is missing (a wrong
base URL or a proxy), and ``raise_if_endpoint_missing`` fails the run instead of calling it an
empty table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import Response

from analytics_assets.api.errors import ApiResponseError, api_error_text
from analytics_assets.api.redact import NO_SECRETS, Redactor
from analytics_assets.schema import Table

GONE = 404


def _ignore(message: str) -> None:
    """The default warning sink."""


class VanishedParents:
    """Counts, per child resource, the reads that answered and those skipped as gone.

    Args:
        warn: Told about each skipped read (the key masked).
        redact: Masks the API key in URLs and the API's words.
    """

    def __init__(self, warn: Callable[[str], None] = _ignore, redact: Redactor = NO_SECRETS):
        self.warn = warn
        self.redact = redact
        self.skipped: dict[str, list[str]] = {}
        self.answered: dict[str, int] = {}
        self._lock = threading.Lock()  # the per-parent reads run concurrently

    def hook(self, table: Table) -> Callable[..., None]:
        """The ``response_actions`` entry of the child resource ``table``."""
        parent = table.parent.table if table.parent else "parent"

        def on_response(response: Response, *args: Any, **kwargs: Any) -> None:
            if 200 <= response.status_code < 300:
                with self._lock:
                    self.answered[table.name] = self.answered.get(table.name, 0) + 1
                return
            if response.status_code != GONE:
                return  # retried or raised as for any endpoint
            url = self.redact(response.url)
            with self._lock:
                self.skipped.setdefault(table.name, []).append(url)
            said = api_error_text(response, self.redact)
            self.warn(
                f"{table.name}: GET {url} answered 404{f' ({said})' if said else ''}: the "
                f"{parent} record was deleted after it was listed; its {table.name} are skipped "
                "in this run"
            )
            raise IgnoreResponseException()

        return on_response

    def count(self, resource: str) -> int:
        """Reads of ``resource`` skipped because their parent was gone."""
        return len(self.skipped.get(resource, ()))

    def raise_if_endpoint_missing(self) -> None:
        """Fail when every read of a child resource (two or more) answered 404."""
        for resource, urls in self.skipped.items():
            if len(urls) >= 2 and not self.answered.get(resource):
                raise ApiResponseError(
                    f"{resource}: all {len(urls)} per-parent reads answered 404 (e.g. GET "
                    f"{urls[0]}): the endpoint is missing, not every parent deleted. Check "
                    "ANALYTICS_API_BASE_URL and any proxy in between"
                )
