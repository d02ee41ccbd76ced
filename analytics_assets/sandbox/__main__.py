"""``analytics-sandbox`` / ``python -m analytics_assets.sandbox``: serve the sandbox API.

Prints one line, ``analytics-sandbox listening on http://127.0.0.1:PORT/v1/``, then serves until
SIGTERM or SIGINT and exits 0. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import tempfile
import textwrap
import threading
from pathlib import Path

from analytics_assets.sandbox.data import DEFAULT_COUNTS
from analytics_assets.sandbox.defects import DEFECTS
from analytics_assets.sandbox.faults import ARGS, KINDS, SPEC_SYNTAX, FaultSpec, parse_fault_spec
from analytics_assets.sandbox.server import SandboxConfig, SandboxServer
from analytics_assets.schema import SEED_TABLES, TABLES

_INDENT = " " * 12
_KINDS_TEXT = textwrap.fill(
    ", ".join(KINDS), 92, initial_indent=_INDENT, subsequent_indent=_INDENT
).lstrip()
_OTHER_TABLES = tuple(t.name for t in TABLES if t not in SEED_TABLES)
_ENDPOINTS = textwrap.fill(
    ", ".join(f"{t.path} ({t.name})" if t.parent else t.path for t in TABLES),
    92,
    initial_indent="  ",
    subsequent_indent="  ",
)
_RESOURCES_TEXT = textwrap.fill(
    ", ".join(t.name for t in TABLES), 92, initial_indent=_INDENT, subsequent_indent=_INDENT
).lstrip()
_FAULT_HELP = f"""\
endpoints (GET, under /v1):
{_ENDPOINTS}
  filters: leads updated_after; events start_at/end_at (after/before: exclusive);
  replies start_at/end_at (on or after/on or before: inclusive). next_page carries them.

faults (--fault {SPEC_SYNTAX}, repeatable, matched in the order given):
  RESOURCE  one of {_RESOURCES_TEXT}
  PAGE      1-based page to hit; omitted: any page. For campaign_leads and replies: the page
            within a campaign's own sequence, of any campaign
  KIND      {_KINDS_TEXT}
  ARG       none, except:
{chr(10).join(f"{_INDENT}{kind}: {syntax}" for kind, syntax in ARGS.items())}
  TIMES     how many matching requests get the fault (default 1), then normal service
  examples: leads:3=status:503x2  users=reset  leads:2=delay:1.5  leads=trickle:0.5
            campaigns=status:429,Retry-After=3  leads=empty_page_has_morex1000
            leads:2=foreign_next_page:http://127.0.0.1:9  leads=headers:X-RateLimit-Remaining=0
            leads:3=repeated_page  leads:1=patch_record:0,id  leads:1=replace_record:2,null

rate limit (--rate-limit N): N authenticated requests per fixed window (--rate-window,
default 60 s) opened by the first request; every response then carries X-RateLimit-Limit,
-Remaining and -Reset (epoch seconds, rounded up), and requests past N get a 429.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; defaults come from ``SandboxConfig``."""
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(
        prog="analytics-sandbox",
        description="Serve a fake PersistIq v1 API on 127.0.0.1.",
        epilog=_FAULT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--key-header", default=defaults.key_header)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--leads", type=int, default=defaults.leads)
    parser.add_argument("--campaigns", type=int, default=defaults.campaigns)
    parser.add_argument(
        "--count",
        action="append",
        default=[],
        type=_count_arg,
        metavar="TABLE=N",
        help=f"rows of another table (repeatable); TABLE one of {', '.join(_OTHER_TABLES)}; "
        f"defaults: {', '.join(f'{name}={DEFAULT_COUNTS[name]}' for name in _OTHER_TABLES)}",
    )
    parser.add_argument(
        "--activity-end",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        default=defaults.activity_end,
        help="the day after the last day of replies and events (default: today, UTC)",
    )
    parser.add_argument(
        "--activity-days",
        type=int,
        metavar="N",
        default=defaults.activity_days,
        help=f"UTC days of replies and events, ending the day before --activity-end "
        f"(default {defaults.activity_days})",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--page-size", type=int, default=defaults.page_size)
    parser.add_argument("--page-mode", choices=("url", "token"), default=defaults.page_mode)
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        choices=DEFECTS,
        help="inject a bad-data defect (repeatable)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        default=defaults.rate_limit,
        help="authenticated requests allowed per window (default: no limit)",
    )
    parser.add_argument(
        "--rate-window",
        type=float,
        metavar="SECONDS",
        default=defaults.rate_window_s,
        help=f"rate-limit window length (default {defaults.rate_window_s:g})",
    )
    parser.add_argument(
        "--latency",
        type=float,
        metavar="SECONDS",
        default=defaults.latency_s,
        help="seconds each answer takes, as a real API's (default: at once)",
    )
    parser.add_argument(
        "--latency-jitter",
        type=float,
        metavar="SHARE",
        default=defaults.latency_jitter,
        help=f"latency varies by ± this share (default {defaults.latency_jitter:g})",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_arg,
        metavar=SPEC_SYNTAX,
        help="inject a fault (repeatable); see below",
    )
    parser.add_argument(
        "--port-file", type=Path, help="write the bound port number here once listening"
    )
    args = parser.parse_args(argv)
    if args.rate_limit is not None and args.rate_limit < 1:
        parser.error(f"--rate-limit must be at least 1, got {args.rate_limit}")
    if not 0 < args.rate_window < float("inf"):
        parser.error(f"--rate-window must be a positive number of seconds, got {args.rate_window}")
    if not 0 <= args.latency < float("inf"):
        parser.error(f"--latency must be 0 or more seconds, got {args.latency}")
    if not 0 <= args.latency_jitter <= 1:
        parser.error(f"--latency-jitter must be within 0..1, got {args.latency_jitter}")
    if args.activity_days < 1:
        parser.error(f"--activity-days must be at least 1, got {args.activity_days}")
    return args


def _count_arg(text: str) -> tuple[str, int]:
    """argparse type of ``--count``: ``TABLE=N`` for a table other than the seed's three."""
    name, equals, number = text.partition("=")
    if not equals or name not in _OTHER_TABLES or not number.isdigit():
        raise argparse.ArgumentTypeError(
            f"bad count {text!r}: expected TABLE=N with N >= 0 and TABLE one of "
            f"{', '.join(_OTHER_TABLES)} (users, leads, campaigns: --users, --leads, --campaigns)"
        )
    return name, int(number)


def _fault_arg(text: str) -> FaultSpec:
    """argparse type of ``--fault``: a parsed spec for a served resource."""
    try:
        spec = parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    names = [table.name for table in TABLES]
    if spec.resource not in names:
        raise argparse.ArgumentTypeError(
            f"bad fault {text!r}: unknown resource {spec.resource!r}; have {', '.join(names)}"
        )
    return spec


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until SIGTERM/SIGINT; returns the exit code."""
    args = parse_args(argv)
    config = SandboxConfig(
        api_key=args.api_key,
        key_header=args.key_header,
        users=args.users,
        leads=args.leads,
        campaigns=args.campaigns,
        table_counts=dict(args.count),
        activity_end=args.activity_end,
        activity_days=args.activity_days,
        seed=args.seed,
        page_size=args.page_size,
        page_mode=args.page_mode,
        defects=tuple(args.defect),
        rate_limit=args.rate_limit,
        rate_window_s=args.rate_window,
        latency_s=args.latency,
        latency_jitter=args.latency_jitter,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sandbox = SandboxServer(config, port=args.port)
    for spec in args.fault:
        sandbox.inject(*spec)
    with sandbox:
        if args.port_file:
            _write_atomically(args.port_file, f"{sandbox.port}\n")
        print(f"analytics-sandbox listening on {sandbox.base_url}", flush=True)
        stop.wait()
    return 0


def _write_atomically(path: Path, text: str) -> None:
    # A poller must never read a half-written port number.
    handle, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
