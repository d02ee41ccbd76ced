"""``analytics-sandbox`` / ``python -m analytics_assets.sandbox``: serve the sandbox API.

Prints one line, ``analytics-sandbox listening on http://127.0.0.1:PORT/v1/``, then serves until
SIGTERM or SIGINT and exits 0. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
from pathlib import Path

from analytics_assets.sandbox.defects import DEFECTS
from analytics_assets.sandbox.server import SandboxConfig, SandboxServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; defaults come from ``SandboxConfig``."""
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(
        prog="analytics-sandbox", description="Serve a fake PersistIq v1 API on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--key-header", default=defaults.key_header)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--leads", type=int, default=defaults.leads)
    parser.add_argument("--campaigns", type=int, default=defaults.campaigns)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--page-size", type=int, default=defaults.page_size)
    parser.add_argument("--page-mode", choices=("url", "token"), default=defaults.page_mode)
    parser.add_argument("--defect", action="append", default=[], choices=DEFECTS,
                        help="inject a bad-data defect (repeatable)")
    parser.add_argument("--port-file", type=Path,
                        help="write the bound port number here once listening")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until SIGTERM/SIGINT; returns the exit code."""
    args = parse_args(argv)
    config = SandboxConfig(
        api_key=args.api_key, key_header=args.key_header, users=args.users, leads=args.leads,
        campaigns=args.campaigns, seed=args.seed, page_size=args.page_size,
        page_mode=args.page_mode, defects=tuple(args.defect),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with SandboxServer(config, port=args.port) as sandbox:
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
