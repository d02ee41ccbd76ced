"""Keeping the API key out of every text that leaves a request: logs, failures, metadata, rows."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
SHORT = 8
"""A secret shorter than this is masked only as a whole token: masking every ``k`` of a key
``k`` would garble every message (real API keys are far longer, and masked anywhere)."""
UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]")
"""Characters a URL never percent-encodes."""


def _pattern(secret: str) -> str:
    """``secret`` as sent, or with any of its other characters percent-encoded (either case),
    or ``+`` for a space."""
    parts = []
    for char in secret:
        if UNRESERVED.fullmatch(char):
            parts.append(re.escape(char))
            continue
        encoded = "".join(f"%{byte:02x}" for byte in char.encode("utf-8"))
        options = [
            re.escape(char),
            "".join(
                f"%(?i:{e[1:]})" for e in [encoded[i : i + 3] for i in range(0, len(encoded), 3)]
            ),
        ]
        if char == " ":
            options.append(r"\+")
        parts.append(f"(?:{'|'.join(options)})")
    return "".join(parts)


class Redactor:
    """Replaces each secret, as sent or URL-encoded (in any case), by ``***`` in any text.

    An API's error body may echo the key it was sent; that text reaches failures, the Dagster
    event log, alerts and the rejected-records table only through a ``Redactor``.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        patterns = []
        for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
            pattern = _pattern(secret)
            if len(secret) < SHORT:
                pattern = rf"(?<![\w.~%-]){pattern}(?![\w.~-])"
            patterns.append(pattern)
        self._pattern = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds a secret (as sent or URL-encoded)."""
        return bool(self._pattern and self._pattern.search(text))


NO_SECRETS = Redactor()
