"""Fixtures of the sandbox's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A plain HTTP client for the sandbox: no proxies or netrc for loopback."""
    with requests.Session() as client:
        client.trust_env = False
        yield client
