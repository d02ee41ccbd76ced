"""Contender "floor": a plain HTTP client loop over every page with JSON parsing, nothing stored.

Run as a child: ``python -m benchmarks.floor --base-url URL --out F``. One keep-alive
``http.client`` connection, following ``next_page`` of every endpoint ``analytics_api_sync``
reads: the flat ones, then each campaign's leads.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from urllib.parse import urlsplit

from benchmarks.child import write_payload
from benchmarks.sandbox_proc import API_KEY, KEY_HEADER

RESOURCES = ("users", "leads", "campaigns", "lead_statuses", "lead_fields", "tags", "dnc_domains")
CHILDREN = {"campaign_leads": "campaigns/{}/leads"}  # records key -> path under each campaign


def walk(
    connection: http.client.HTTPConnection,
    path: str,
    resource: str,
    headers: dict[str, str] | None = None,
    endpoint: str | None = None,
    ids: list[str] | None = None,
) -> tuple[int, int]:
    """Follow next_page (a URL or a token) from the first page of ``resource`` (at
    ``endpoint``, default its name): (pages, rows). The records' ids go to ``ids`` if given."""
    target: str | None = f"{path}{endpoint or resource}"
    pages = rows = 0
    headers = headers or {KEY_HEADER: API_KEY}
    while target is not None:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{target}: {response.status} {body}")
        pages += 1
        rows += len(body[resource])
        if ids is not None:
            ids.extend(record["id"] for record in body[resource])
        cursor = body.get("next_page")
        if not cursor or body.get("has_more") is False:
            target = None
        elif (parts := urlsplit(cursor)).scheme:
            target = f"{parts.path}?{parts.query}"
        else:
            target = f"{path}{resource}?next_page={cursor}"
    return pages, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    split = urlsplit(args.base_url)
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
    started = time.perf_counter()
    campaigns: list[str] = []
    counts = {
        resource: walk(
            connection, split.path, resource, ids=campaigns if resource == "campaigns" else None
        )
        for resource in RESOURCES
    }
    for resource, template in CHILDREN.items():
        walks = [
            walk(connection, split.path, resource, endpoint=template.format(campaign))
            for campaign in campaigns
        ]
        counts[resource] = (sum(p for p, _ in walks), sum(r for _, r in walks))
    wall = time.perf_counter() - started
    connection.close()
    write_payload(
        args.out,
        {
            "wall_s": wall,
            "pages": {name: pages for name, (pages, _) in counts.items()},
            "rows": {name: rows for name, (_, rows) in counts.items()},
            "phases": {"extract": wall},
        },
    )


if __name__ == "__main__":
    main()
