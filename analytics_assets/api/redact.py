"""Keeping the API key out of every text that leaves a request: logs, failures, metadata, rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
SHORT = 8
"""A secret shorter than this is masked only as a whole token: masking every ``k`` of a key
``k`` would garble every message (real API keys are far longer, and masked anywhere)."""


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
        longest_first = sorted(forms, key=len, reverse=True)  # no partial masks
        self._anywhere = [form for form in longest_first if len(form) >= SHORT]
        short = [re.escape(form) for form in longest_first if len(form) < SHORT]
        self._tokens = (
            re.compile(rf"(?<![\w.~-])(?:{'|'.join(short)})(?![\w.~-])") if short else None
        )

    def __call__(self, text: str) -> str:
        for form in self._anywhere:
            if form in text:
                text = text.replace(form, MASK)
        return self._tokens.sub(MASK, text) if self._tokens else text


NO_SECRETS = Redactor()
