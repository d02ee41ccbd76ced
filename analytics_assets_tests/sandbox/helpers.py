"""HTTP helpers shared by the sandbox's tests: GET with the key, walk every page of an endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from analytics_assets.sandbox import SandboxServer
from analytics_assets.schema import Table

KEY = "sandbox-key"


def get(
    session: requests.Session,
    server: SandboxServer,
    target: str,
    key: str | None = KEY,
    header: str = "x-api-key",
    **params: str,
) -> requests.Response:
    """GET a path relative to base_url (or an absolute URL) with the API key header."""
    url = target if target.startswith("http") else server.base_url + target
    headers = {} if key is None else {header: key}
    return session.get(url, headers=headers, params=params or None, timeout=10)


def walk(
    session: requests.Session, server: SandboxServer, resource: str, **params: str
) -> list[dict[str, Any]]:
    """Every page of ``resource`` (a path below base_url), following next_page alone.

    The filters go with the first request only: next_page must carry them.
    """
    bodies = []
    response = get(session, server, resource, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        bodies.append(body)
        assert len(bodies) < 1000, "pagination does not end"
        if not body.get("has_more"):
            assert body.get("next_page") is None
            return bodies
        if server.config.page_mode == "url":
            next_url = urlsplit(body["next_page"])
            assert next_url.path == urlsplit(server.base_url + resource).path
            query = parse_qs(next_url.query)
            assert query == {"page": [str(len(bodies) + 1)], **{k: [v] for k, v in params.items()}}
            response = get(session, server, body["next_page"])
        else:
            assert not body["next_page"].startswith("http")
            response = get(session, server, resource, next_page=body["next_page"])


def endpoint_paths(server: SandboxServer, table: Table) -> list[str]:
    """The paths below base_url serving ``table``: one per campaign for a per-campaign table."""
    if table.parent is None:
        return [table.name]
    parents = [record["id"] for record in server.records(table.parent.table)]
    return [table.path.lstrip("/").replace("{campaign_id}", parent) for parent in parents]


def walk_all(
    session: requests.Session, server: SandboxServer, table: Table
) -> list[dict[str, Any]]:
    """Every page of every endpoint of ``table``, campaign after campaign for a per-campaign one."""
    return [body for path in endpoint_paths(server, table) for body in walk(session, server, path)]


def ids(bodies: list[dict[str, Any]], resource: str) -> list[str]:
    return [record["id"] for body in bodies for record in body[resource]]


def served(bodies: list[dict[str, Any]], resource: str) -> list[dict[str, Any]]:
    """The records of every page, in order."""
    return [record for body in bodies for record in body[resource]]


def enrolled(server: SandboxServer) -> dict[str, int]:
    """Leads enrolled per campaign id, every campaign (most first, ties in campaign order)."""
    counts = {campaign["id"]: 0 for campaign in server.records("campaigns")}
    for row in server.records("campaign_leads"):
        counts[row["campaign_id"]] += 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
