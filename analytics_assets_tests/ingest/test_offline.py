"""A sync talks to the API and to nothing else: no name outside loopback is even looked up."""

from __future__ import annotations

import ast
import subprocess
import sys

from analytics_assets.settings import PROJECT_DIR
from analytics_assets_tests.conftest import process_env

CHILD = """
import socket, sys
looked_up = []
real = socket.getaddrinfo
def spy(host, *args, **kwargs):
    looked_up.append(str(host))
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise socket.gaierror("outside loopback: refused by the test")
    return real(host, *args, **kwargs)
socket.getaddrinfo = spy
from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.local import sandbox_environment
with sandbox_environment(SandboxConfig(key_header="x-api-key", leads=300)):
    from analytics_assets_tests.conftest import run_sync
    assert run_sync().success
import time; time.sleep(1)  # dlt's telemetry would send from a background thread
print(sorted({h for h in looked_up if h not in ("127.0.0.1", "localhost", "::1")}))
"""


def _outside_lookups(**environ: str) -> list[str]:
    """Host names outside loopback a fresh process's sync looked up (dlt starts its telemetry
    once per process, with the first source it builds)."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=PROJECT_DIR,
        env=process_env(**environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_a_sync_looks_up_no_host_outside_loopback(warehouse: object) -> None:
    assert _outside_lookups() == []


def test_with_dlt_telemetry_opted_in_the_spy_sees_its_host(warehouse: object) -> None:
    """The check above can fail: this is what it would see."""
    assert any("scalevector" in host for host in _outside_lookups(RUNTIME__DLTHUB_TELEMETRY="true"))
