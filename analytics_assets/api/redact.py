"""Keeping the API key out of every text that leaves a request: logs, failures, metadata, rows."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"


class Redactor:
    """Replaces each secret, as sent or URL-encoded, by ``***`` in any text.

    An API's error body may echo the key it was sent; that text reaches failures, the Dagster
    event log, alerts and the rejected-records table only through a ``Redactor``.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms = set()
        for secret in secrets:
            if secret:
                forms |= {secret, quote(secret, safe=""), quote_plus(secret)}
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no partial masks

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text


NO_SECRETS = Redactor()
