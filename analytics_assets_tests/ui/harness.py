"""`dagster dev` against the sandbox in a subprocess, and a small client for its GraphQL API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from analytics_assets.local import dagster_dev_command
from analytics_assets.sandbox import SandboxServer
from analytics_assets.settings import PROJECT_DIR

T = TypeVar("T")

STARTUP_TIMEOUT_S = 90.0
"""`dagster dev` answers within 10–20 s on two cores; generous for a loaded CI machine."""
SHUTDOWN_TIMEOUT_S = 20.0
LOG_NAME = "dagster-dev.log"
REPOSITORY_SELECTOR = {
    "repositoryLocationName": "analytics_assets",
    "repositoryName": "__repository__",
}
CLEARED_VARIABLES = (
    "ANALYTICS_API_BASE_URL",
    "ANALYTICS_API_KEY",
    "ANALYTICS_API_KEY_HEADER",
    "ANALYTICS_DUCKDB_PATH",
    "ANALYTICS_DLT_DIR",
    "ANALYTICS_SCHEDULES_RUNNING",
    "API_KEY",
)


class GraphQLError(RuntimeError):
    """The webserver answered a query with errors."""


def poll(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.5,
    give_up: Callable[[], str | None] = lambda: None,
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout_s``.

    ``give_up`` returns a reason to stop waiting early (e.g. the server process died).
    """
    deadline = time.monotonic() + timeout_s
    last: object = None
    while True:
        try:
            result = probe()
        except (OSError, ValueError, GraphQLError) as error:  # not up yet, or a bad answer
            result, last = None, error
        else:
            last = result
        if result:
            return result
        reason = give_up()
        if reason:
            raise AssertionError(f"gave up waiting for {what}: {reason}")
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout_s:.0f} s waiting for {what}; last answer: {last!r}"
            )
        time.sleep(interval_s)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class DagsterDev:
    """A running `dagster dev`: its URL, its process and its log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a GraphQL query; raises GraphQLError when the answer has errors."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"])[:2000])
        return answer["data"]

    def died(self) -> str | None:
        """Why the process is gone (with the end of its log), or None while it runs."""
        if self.process.poll() is None:
            return None
        return f"dagster dev exited with {self.process.returncode}:\n{self.log_tail()}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the combined stdout/stderr of `dagster dev`."""
        return self.log_path.read_text(errors="replace")[-chars:]


def _location_loaded(dev: DagsterDev) -> bool:
    data = dev.graphql(
        """{ workspaceOrError { ... on Workspace { locationEntries {
               name loadStatus locationOrLoadError { __typename } } } } }"""
    )
    entries = data["workspaceOrError"].get("locationEntries") or []
    return any(
        entry["name"] == REPOSITORY_SELECTOR["repositoryLocationName"]
        and entry["loadStatus"] == "LOADED"
        and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for entry in entries
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left; wait until it is gone."""
    group = process.pid  # start_new_session: the group id is the leader's pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S
        while time.monotonic() < deadline:  # children (daemon, code server, runs) too
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    process.wait(timeout=SHUTDOWN_TIMEOUT_S)


@contextmanager
def dagster_dev(sandbox: SandboxServer, workdir: Path) -> Iterator[DagsterDev]:
    """Run `dagster dev` (webserver and daemon) pointed at ``sandbox``, state under ``workdir``.

    Yields once the code location is loaded; kills the whole process group on exit.
    """
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
    env = {name: value for name, value in os.environ.items() if name not in CLEARED_VARIABLES}
    env.update(
        DAGSTER_HOME=str(home),
        ANALYTICS_API_BASE_URL=sandbox.base_url,
        ANALYTICS_API_KEY=sandbox.config.api_key,
        ANALYTICS_API_KEY_HEADER=sandbox.config.key_header,
        ANALYTICS_DUCKDB_PATH=str(workdir / "warehouse.duckdb"),
        ANALYTICS_DLT_DIR=str(workdir / "dlt"),
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    command = dagster_dev_command(port)  # what `make dev` runs
    log_path = workdir / LOG_NAME
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    dev = DagsterDev(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        poll(
            lambda: _location_loaded(dev),
            STARTUP_TIMEOUT_S,
            "the webserver to load the code location",
            give_up=dev.died,
        )
        yield dev
    finally:
        _stop(process)
