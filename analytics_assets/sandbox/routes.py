"""Which resource a request path names: ``API_PREFIX`` + each table's ``schema.Table.path``.

Flat endpoints are ``/v1/<name>``; a per-parent one such as ``/v1/campaigns/{campaign_id}/leads``
serves ``campaign_leads`` of one campaign. A trailing slash is tolerated.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, unquote

from analytics_assets.sandbox.pages import API_PREFIX
from analytics_assets.schema import TABLES, Table


class Route(NamedTuple):
    """A matched path: the resource and, for a per-parent endpoint, the parent's id."""

    resource: str
    parent: str | None


def _pattern(table: Table) -> re.Pattern[str]:
    path = re.escape(API_PREFIX + table.path.lstrip("/"))
    if table.parent is not None:
        param = re.escape("{" + table.parent.param + "}")
        path = path.replace(param, "(?P<parent>[^/]+)")
    return re.compile(path + "/?")


_FLAT = {API_PREFIX + t.path.lstrip("/"): t.name for t in TABLES if t.parent is None}
_PATTERNS = tuple((t.name, _pattern(t)) for t in TABLES if t.parent is not None)


def match(path: str) -> Route | None:
    """The route of ``path`` (without the query string); None if no endpoint has it."""
    flat = _FLAT.get(path[:-1] if path.endswith("/") else path)
    if flat is not None:
        return Route(flat, None)
    for resource, pattern in _PATTERNS:
        found = pattern.fullmatch(path)
        if found is not None:
            parent = found.groupdict().get("parent")
            return Route(resource, unquote(parent) if parent is not None else None)
    return None


def path_of(table: Table, parent: str | None = None) -> str:
    """The endpoint's path below ``API_PREFIX``: ``leads``, ``campaigns/c_1/replies``."""
    path = table.path.lstrip("/")
    if table.parent is not None:
        if parent is None:
            raise ValueError(f"{table.name} is served per {table.parent.table}: name one")
        path = path.replace("{" + table.parent.param + "}", quote(parent, safe=""))
    return path
