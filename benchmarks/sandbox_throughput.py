"""How many pages per second one keep-alive client gets from the sandbox on loopback.

Run: ``python benchmarks/sandbox_throughput.py [--leads N] [--page-mode url|token] [--passes N]``.
Walks every lead page with one ``http.client.HTTPConnection``, following ``next_page`` and parsing
each page's JSON as a real client does. At 100 leads per page the client's ``json.loads`` costs
about as much as the server's work, so the figure is a floor for the server's own throughput.
"""

from __future__ import annotations

import argparse
import http.client
import time

from analytics_assets.sandbox import SandboxConfig, SandboxServer
from benchmarks.floor import walk


def timed_walk(sandbox: SandboxServer, resource: str) -> tuple[int, int, float]:
    """``floor.walk`` over one keep-alive connection; returns (pages, rows, seconds)."""
    config = sandbox.config
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    started = time.perf_counter()
    pages, rows = walk(connection, "/v1/", resource, {config.key_header: config.api_key})
    elapsed = time.perf_counter() - started
    connection.close()
    return pages, rows, elapsed


def main() -> None:
    """Start a sandbox, walk the leads twice and print pages/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--page-mode", choices=("url", "token"), default="url")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    config = SandboxConfig(leads=args.leads, page_mode=args.page_mode)
    with SandboxServer(config) as sandbox:
        print(f"{args.leads} leads generated and rendered in {time.perf_counter() - started:.1f} s")
        for number in range(1, args.passes + 1):
            pages, rows, seconds = timed_walk(sandbox, "leads")
            print(
                f"pass {number}: {pages} pages, {rows} rows in {seconds:.2f} s = "
                f"{pages / seconds:,.0f} pages/s, {rows / seconds:,.0f} rows/s"
            )


if __name__ == "__main__":
    main()
