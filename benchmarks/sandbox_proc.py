"""The sandbox API in its own process, so its CPU and memory never count as the client's."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from analytics_assets.sandbox import SandboxConfig

API_KEY = SandboxConfig().api_key
KEY_HEADER = SandboxConfig().key_header


@dataclass(frozen=True)
class SandboxProcess:
    """A running ``python -m analytics_assets.sandbox``."""

    pid: int
    port: int
    startup_s: float

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1/``."""
        return f"http://127.0.0.1:{self.port}/v1/"

    def rss_mb(self) -> float:
        """The sandbox's current resident memory in MB (0 if it is gone)."""
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextmanager
def sandbox_process(
    leads: int,
    users: int = 25,
    campaigns: int = 40,
    extra: tuple[str, ...] = (),
    timeout_s: float = 600.0,
) -> Iterator[SandboxProcess]:
    """Start the sandbox CLI on a free port; wait until it pre-rendered and listens."""
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        port_file = Path(tmp) / "port"
        command = [
            sys.executable,
            "-m",
            "analytics_assets.sandbox",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--leads",
            str(leads),
            "--users",
            str(users),
            "--campaigns",
            str(campaigns),
            *extra,
        ]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            while not port_file.exists():
                if process.poll() is not None:
                    raise RuntimeError(f"sandbox exited with {process.returncode}")
                if time.perf_counter() - started > timeout_s:
                    raise TimeoutError("sandbox did not start")
                time.sleep(0.05)
            port = int(port_file.read_text())
            yield SandboxProcess(process.pid, port, time.perf_counter() - started)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
