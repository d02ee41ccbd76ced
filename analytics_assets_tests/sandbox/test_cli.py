"""``python -m analytics_assets.sandbox``: starts, reports its port, serves, exits 0 on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import requests

import analytics_assets
from analytics_assets.sandbox import Reset, Status, Trickle
from analytics_assets.sandbox.__main__ import parse_args
from analytics_assets.sandbox.faults import ARGS, KINDS

ROOT = Path(analytics_assets.__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0


def environment() -> dict[str, str]:
    """This environment with the repository importable, installed or not."""
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def wait_for_port(path: Path, process: subprocess.Popen[str]) -> int:
    """Poll the port file until the server has written it; fail fast if the process dies."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sandbox exited {process.returncode}: {process.stderr.read()}")
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return int(text)
        time.sleep(0.02)  # a poll interval, not a wait for readiness
    raise AssertionError(f"no port file after {STARTUP_TIMEOUT} s")


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [
        sys.executable,
        "-m",
        "analytics_assets.sandbox",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--leads",
        "150",
        "--api-key",
        "cli-key",
        "--page-mode",
        "token",
        "--defect",
        "null_email",
        "--activity-end",
        "2026-11-20",
        "--count",
        "events=5",
        "--count",
        "replies=0",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = wait_for_port(port_file, process)
        assert process.stdout is not None
        assert process.stdout.readline() == (
            f"analytics-sandbox listening on http://127.0.0.1:{port}/v1/\n"
        )
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(
                f"http://127.0.0.1:{port}/v1/leads", headers={"x-api-key": "cli-key"}, timeout=10
            )
            events = session.get(
                f"http://127.0.0.1:{port}/v1/events", headers={"x-api-key": "cli-key"}, timeout=10
            ).json()["events"]
            campaign = session.get(
                f"http://127.0.0.1:{port}/v1/campaigns",
                headers={"x-api-key": "cli-key"},
                timeout=10,
            ).json()["campaigns"][0]["id"]
            replies = session.get(
                f"http://127.0.0.1:{port}/v1/campaigns/{campaign}/replies",
                headers={"x-api-key": "cli-key"},
                timeout=10,
            )
        assert response.status_code == 200
        body = response.json()
        assert len(body["leads"]) == 100
        assert body["has_more"] is True and not body["next_page"].startswith("http")
        assert len(events) == 5
        assert all("2026-10-21T" <= e["created_at"] <= "2026-11-20T00:00:00.000Z" for e in events)
        assert replies.status_code == 200 and replies.json()["replies"] == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


def test_cli_rejects_an_unknown_defect() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "analytics_assets.sandbox", "--defect", "bogus"],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "null_email" in result.stderr and result.stdout == ""


def test_the_sandbox_imports_neither_dagster_nor_dlt() -> None:
    code = (
        "import sys, analytics_assets.sandbox.__main__; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'dlt'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_rate_limit_and_faults(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [
        sys.executable,
        "-m",
        "analytics_assets.sandbox",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--leads",
        "250",
        "--rate-limit",
        "4",
        "--rate-window",
        "30",
        "--fault",
        "leads:2=status:503,Retry-After=1x2",
        "--fault",
        "users=reset",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = wait_for_port(port_file, process)
        base = f"http://127.0.0.1:{port}/v1/"
        with requests.Session() as session:
            session.trust_env = False
            headers = {"x-api-key": "sandbox-key"}
            with pytest.raises(requests.exceptions.ConnectionError):
                session.get(base + "users", headers=headers, timeout=10)
            responses = [
                session.get(f"{base}leads?page=2", headers=headers, timeout=10) for _ in range(4)
            ]
        assert [r.status_code for r in responses] == [503, 503, 200, 429]
        assert responses[0].headers["Retry-After"] == "1"
        assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
        assert "per minute" in responses[3].json()["error"]["message"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


def test_cli_parses_fault_and_rate_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(
        [
            "--rate-limit",
            "100",
            "--rate-window",
            "2.5",
            "--fault",
            "leads:3=status:503x2",
            "--fault",
            "users=reset",
            "--fault",
            "campaigns:2=trickle:0.01",
        ]
    )
    assert (args.rate_limit, args.rate_window) == (100, 2.5)
    assert args.fault == [
        ("leads", Status(503), 3, 2),
        ("users", Reset(), None, 1),
        ("campaigns", Trickle(0.01), 2, 1),
    ]
    defaults = parse_args([])
    assert (defaults.rate_limit, defaults.rate_window, defaults.fault) == (None, 60.0, [])
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "leads:3=status:503x2" in out
    listed = out.split("  KIND", 1)[1].split("  ARG", 1)[0]
    assert [kind.strip() for kind in listed.replace("\n", " ").split(",")] == list(KINDS)
    assert all(f"            {kind}: {syntax}\n" in out for kind, syntax in ARGS.items())


def test_cli_parses_counts_and_the_activity_window() -> None:
    args = parse_args(
        ["--count", "replies=7", "--count", "tags=0", "--activity-end", "2026-11-20"]
        + ["--activity-days", "10", "--fault", "replies:2=status:503"]
    )
    assert args.count == [("replies", 7), ("tags", 0)]
    assert (args.activity_end, args.activity_days) == (date(2026, 11, 20), 10)
    assert args.fault == [("replies", Status(503), 2, 1)]
    defaults = parse_args([])
    assert (defaults.count, defaults.activity_end, defaults.activity_days) == ([], None, 30)


@pytest.mark.parametrize(
    "argv",
    [
        ["--count", "leads=5"],
        ["--count", "replies"],
        ["--count", "replies=-1"],
        ["--count", "nope=1"],
        ["--activity-end", "20 Nov"],
        ["--activity-days", "0"],
        ["--fault", "leads=bogus"],
        ["--fault", "nope=reset"],
        ["--fault", "leads:0=reset"],
        ["--rate-limit", "0"],
        ["--rate-window", "-1"],
        ["--latency", "-0.1"],
        ["--latency-jitter", "1.5"],
    ],
)
def test_cli_rejects_bad_fault_and_rate_flags(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
