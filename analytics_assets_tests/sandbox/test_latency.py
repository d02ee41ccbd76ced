"""The sandbox's latency: each answer takes a while, as a real API's, and others go on."""

from __future__ import annotations

import random
import threading
import time

import pytest
import requests

from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.sandbox.config import latency_of

POLL_TIMEOUT_S = 3.0


def test_latency_is_the_configured_seconds_plus_or_minus_the_jitter() -> None:
    config = SandboxConfig(latency_s=0.25, latency_jitter=0.2)
    rng = random.Random(8)
    draws = [latency_of(config, rng) for _ in range(2000)]
    assert all(0.2 <= draw <= 0.3 for draw in draws)
    assert min(draws) < 0.21 and max(draws) > 0.29  # the whole range is used
    assert latency_of(SandboxConfig(), random.Random(7)) == 0.0
    assert latency_of(SandboxConfig(latency_s=0.5, latency_jitter=0), random.Random(7)) == 0.5


@pytest.mark.parametrize(
    "fields", [{"latency_s": -1.0}, {"latency_s": float("inf")}, {"latency_jitter": 1.5}]
)
def test_bad_latency_settings_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="latency"):
        SandboxConfig(**fields)  # type: ignore[arg-type]


def test_slow_answers_are_answered_concurrently() -> None:
    """Four requests at once against 5 s answers: all four arrive before any is answered."""
    config = SandboxConfig(users=3, leads=5, campaigns=2, latency_s=5.0, latency_jitter=0)
    with SandboxServer(config) as server:
        done: list[int] = []

        def get() -> None:
            response = requests.get(
                f"{server.base_url}users", headers={config.key_header: config.api_key}, timeout=30
            )
            done.append(response.status_code)

        threads = [threading.Thread(target=get) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while len(server.request_log) < 4:
            assert time.monotonic() < deadline, "the four requests never all arrived"
            time.sleep(0.01)
        assert done == []  # every one arrived while the others were still being answered
        for thread in threads:
            thread.join(timeout=30)
        assert done == [200, 200, 200, 200]
