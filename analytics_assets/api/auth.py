"""A rejected key is reported for every endpoint at once, after exactly one request to each.

dlt's REST client raises at the first 401/403, which ends the whole extraction: a run with a
wrong key would say only that /users refused it, and a key lacking access to one endpoint would
be found out one endpoint per run. ``FirstAnswers`` is a dlt ``response_actions`` hook: a 401 or
403 as a resource's first answer ends that resource (dlt's "ignore"), the other resources still
ask once, and when every resource has had its first answer one ``ApiAuthenticationError`` names
them all. Nothing is retried (dlt retries only the seed's statuses) and nothing is loaded: the
error aborts the extract step, before normalize and load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests import Response

from analytics_assets.api.errors import api_error_text
from analytics_assets.api.redact import NO_SECRETS, Redactor

AUTH_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class AuthFailure:
    """One endpoint's refusal: resource, URL (the key travels in a header), status, API's words."""

    resource: str
    url: str
    status: int
    api_says: str

    def describe(self) -> str:
        said = f" ({self.api_says})" if self.api_says else ""
        return f"{self.resource}: GET {self.url} answered {self.status}{said}"


class ApiAuthenticationError(RuntimeError):
    """The API refused the key on one or more endpoints."""

    def __init__(self, failures: Iterable[AuthFailure]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(failure.describe() for failure in self.failures))

    @property
    def statuses(self) -> frozenset[int]:
        return frozenset(failure.status for failure in self.failures)


class FirstAnswers:
    """Watches each resource's first answer; raises once all of ``resources`` have had one."""

    def __init__(self, resources: Iterable[str], redact: Redactor = NO_SECRETS) -> None:
        self.expected = frozenset(resources)
        self.redact = redact
        self.answered: set[str] = set()
        self.failures: list[AuthFailure] = []
        self._lock = threading.Lock()  # resources are read concurrently

    def hook(self, resource: str) -> Callable[..., None]:
        """The ``response_actions`` entry for ``resource``."""

        def on_response(response: Response, *args: Any, **kwargs: Any) -> None:
            status = response.status_code
            refused = status in AUTH_STATUSES
            if not refused and status >= 400:
                return  # retried by the client, or raised as before: not a first answer yet
            with self._lock:
                if resource in self.answered:
                    return
                self.answered.add(resource)
                if refused:
                    self.failures.append(
                        AuthFailure(
                            resource,
                            self.redact(response.url),
                            status,
                            api_error_text(response, self.redact),
                        )
                    )
                self.raise_if_all_answered()
            if refused:
                raise IgnoreResponseException()  # end this resource; the others still ask

        return on_response

    def raise_if_all_answered(self) -> None:
        """Raise the collected refusals once every expected resource has answered."""
        if self.failures and self.answered >= self.expected:
            raise ApiAuthenticationError(self.failures)

    def raise_if_refused(self) -> None:
        """Raise the collected refusals, if any (for after an extract that was cut short)."""
        if self.failures:
            raise ApiAuthenticationError(self.failures)
