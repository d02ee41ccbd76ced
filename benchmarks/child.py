"""Run one contender in a child process and measure it from outside: wall time and peak RSS.

Peak RSS comes from two places: ``wait4``'s ``ru_maxrss`` (the largest single process of the
child's tree, as the kernel saw it) and a poller that sums ``VmRSS`` over the child and its
descendants every ``POLL_S`` (it catches worker processes, but can miss a peak shorter than
the interval).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLL_S = 0.05


@dataclass
class ChildResult:
    """What one child run measured; ``payload`` is what the child reported about itself."""

    name: str
    process_wall_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    exit_code: int
    cpu_s: float = 0.0  # user + system CPU seconds of the child (and its waited-for children)
    payload: dict[str, Any] = field(default_factory=dict)


def rss_kb(pid: int) -> int:
    """Resident memory of process ``pid`` (``VmRSS``), in kB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    pids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            pids.extend(int(child) for child in text)
    except OSError:
        pass
    return pids


def tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in kB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss_kb(current)
        todo.extend(_children(current))
    return total


class _TreePoller(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self.done.wait(POLL_S)


def run_child(
    name: str,
    module: str,
    args: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 3600.0,
) -> ChildResult:
    """Run ``python -m module *args --out F``; the child writes its own findings to F (JSON).

    The child's stdout and stderr (Dagster's event log lines, for one) go to ``log``.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", module, *args, "--out", str(out)]
        started = time.perf_counter()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as sink:
            process = subprocess.Popen(
                command, env={**os.environ, **(env or {})}, stdout=sink, stderr=subprocess.STDOUT
            )
        poller = _TreePoller(process.pid)
        poller.start()
        timer = threading.Timer(timeout_s, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            poller.done.set()
            poller.join()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        payload = json.loads(out.read_text()) if out.exists() else {}
    return ChildResult(
        name=name,
        process_wall_s=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,
        peak_tree_rss_mb=max(poller.peak_kb, usage.ru_maxrss) / 1024,
        exit_code=process.returncode,
        cpu_s=usage.ru_utime + usage.ru_stime,
        payload=payload,
    )


def write_payload(path: str | Path, payload: dict[str, Any]) -> None:
    """What a child calls last: its findings, as JSON at ``path``."""
    Path(path).write_text(json.dumps(payload, indent=2, default=str))
