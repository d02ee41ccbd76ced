"""How many pages per second one keep-alive client gets from the sandbox on loopback.

Run: ``python benchmarks/sandbox_throughput.py [--leads N] [--page-mode url|token] [--passes N]``.
Walks every lead page with one ``http.client.HTTPConnection``, following ``next_page`` and parsing
each page's JSON as a real client does. At 100 leads per page the client's ``json.loads`` costs
about as much as the server's work, so the figure is a floor for the server's own throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from urllib.parse import urlsplit

from analytics_assets.sandbox import SandboxConfig, SandboxServer


def walk(sandbox: SandboxServer, resource: str) -> tuple[int, int, float]:
    """Follow next_page from page 1 to the end; returns (pages, rows, seconds)."""
    config = sandbox.config
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    headers = {config.key_header: config.api_key}
    target: str | None = f"/v1/{resource}"
    pages = rows = 0
    started = time.perf_counter()
    while target is not None:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{target}: {response.status} {body}")
        pages += 1
        rows += len(body[resource])
        cursor = body.get("next_page")
        if cursor is None:
            target = None
        elif config.page_mode == "url":
            parts = urlsplit(cursor)
            target = f"{parts.path}?{parts.query}"
        else:
            target = f"/v1/{resource}?next_page={cursor}"
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
        print(f"{args.leads} leads generated and rendered in "
              f"{time.perf_counter() - started:.1f} s")
        for number in range(1, args.passes + 1):
            pages, rows, seconds = walk(sandbox, "leads")
            print(f"pass {number}: {pages} pages, {rows} rows in {seconds:.2f} s = "
                  f"{pages / seconds:,.0f} pages/s, {rows / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
