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


def _pattern(secret: str, json_escapes: bool = True) -> str:
    """``secret`` as sent, or with any of its characters escaped as JSON may write them
    (``\\u002f``, ``\\/``: PHP's json_encode escapes every slash) and, for those a URL
    encodes, percent-encoded (either case) or ``+`` for a space."""
    parts = []
    for char in secret:
        options = [re.escape(char)]
        if json_escapes:
            options += _json_escapes(char)
        if not UNRESERVED.fullmatch(char):
            encoded = "".join(f"%{byte:02x}" for byte in char.encode("utf-8"))
            options.append(
                "".join(
                    f"%(?i:{e[1:]})"
                    for e in [encoded[i : i + 3] for i in range(0, len(encoded), 3)]
                )
            )
        if char == " ":
            options.append(r"\+")
        parts.append(f"(?:{'|'.join(options)})")
    return "".join(parts)


class Redactor:
    """Replaces each secret, as sent, JSON-escaped or URL-encoded (in any case), by ``***``.

    An API's error body may echo the key it was sent; that text reaches failures, the Dagster
    event log, alerts and the rejected-records table only through a ``Redactor``.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = _compile(ordered, json_escapes=True)
        self._unescaped = _compile(ordered, json_escapes=False)  # the fast first look
        self._anchors = [_anchor(secret) for secret in ordered]

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds a secret (as sent, JSON-escaped or URL-encoded)."""
        if self._pattern is None or self._unescaped is None:
            return False
        if self._may_hold_unescaped(text) and self._unescaped.search(text):
            return True
        return "\\" in text and bool(self._pattern.search(text))

    def _may_hold_unescaped(self, text: str) -> bool:
        """False only when no secret can be in ``text`` unescaped: a substring search in C,
        15 times faster on a page than the case-insensitive pattern. ASCII text only: the
        pattern also takes ``ſ`` for ``s`` and ``ı`` or ``İ`` for ``i``, which lower-casing
        does not."""
        if not all(self._anchors) or not text.isascii():
            return True  # no anchor to look for (no unreserved character), or not ASCII
        folded = text.lower()
        return any(anchor in folded for anchor in self._anchors)


def _anchor(secret: str) -> str:
    """The longest run of ``secret``'s characters that a URL never encodes, lower case: found
    verbatim (in some letter case) wherever ``secret`` is, as sent or URL-encoded."""
    runs = re.findall(f"{UNRESERVED.pattern}+", secret)
    return max(runs, key=len).lower() if runs else ""


def _json_escapes(char: str) -> list[str]:
    """Patterns of the ways JSON may write ``char``: ``\\uXXXX`` (a surrogate pair beyond
    U+FFFF), and the short escapes of ``/``, ``"`` and the backslash."""
    units = char.encode("utf-16-be")
    code_units = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    options = ["".join(rf"\\u(?i:{unit:04x})" for unit in code_units)]
    short = {"/": r"\\/", '"': r'\\"', "\\": r"\\\\"}.get(char)
    if short:
        options.append(short)
    return options


def _compile(secrets: list[str], json_escapes: bool) -> re.Pattern[str] | None:
    patterns = []
    for secret in secrets:
        pattern = _pattern(secret, json_escapes)
        if len(secret) < SHORT:
            pattern = rf"(?<![\w.~%-]){pattern}(?![\w.~-])"
        patterns.append(pattern)
    return re.compile("|".join(patterns), re.IGNORECASE) if patterns else None


NO_SECRETS = Redactor()
