"""The dlt ``rest_api`` source: the seed's config, with a paginator that loads every page.

The config keeps the seed's shape (client with api-key header auth, ``resource_defaults`` with
``primary_key: id`` and ``merge``, one resource per endpoint with its ``data_selector``); column
hints come from schema.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlt.common.schema.typing import TColumnSchema
from dlt.sources import DltSource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source

from analytics_assets.api.paginator import NextPagePaginator, PageCallback
from analytics_assets.schema import TABLES, FieldType, Table

SOURCE_NAME = "analytics_api"
DLT_DATA_TYPES: dict[FieldType, str] = {"string": "text", "boolean": "bool", "integer": "bigint"}


def column_hints(table: Table) -> dict[str, TColumnSchema]:
    """dlt column hints for ``table``: every declared column gets its declared type.

    Only the primary key is NOT NULL in the warehouse. The seed's other non-nullable fields are
    enforced by asset checks instead, so that one bad record cannot abort a whole load.
    """
    hints: dict[str, TColumnSchema] = {}
    for column in table.columns:
        is_key = column.name == table.primary_key
        hint: TColumnSchema = {
            "data_type": DLT_DATA_TYPES[column.type],  # type: ignore[typeddict-item]
            "nullable": not is_key,
            "description": column.description,
        }
        if is_key:
            hint["primary_key"] = True
        hints[column.name] = hint
    return hints


def drop_null_objects(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A map step removing the record's null nested objects (e.g. ``campaigns.creator``).

    The column hints already give ``creator__id`` etc. their types; a bare ``creator: null``
    would only make dlt warn on every load that it cannot type a column named ``creator``.
    """
    objects = tuple(field.name for field in table.fields if field.type == "object")

    def drop(record: dict[str, Any]) -> dict[str, Any]:
        for name in objects:
            if name in record and record[name] is None:
                del record[name]
        return record

    return drop


def seed_config(
    base_url: str,
    api_key: str,
    key_header: str,
    on_page: Callable[[str], PageCallback | None] = lambda resource: None,
) -> RESTAPIConfig:
    """The seed's ``rest_api`` config, one resource per table of schema.py.

    Args:
        base_url: API root, e.g. ``https://api.persistiq.com/v1/``.
        api_key: The secret sent in the ``key_header`` header through dlt's api_key auth
            (dlt redacts it from its logs; a plain header would not be).
        key_header: Header that carries the key (PersistIq: ``x-api-key``).
        on_page: Returns the progress callback for a resource name, or None.
    """
    return {
        "client": {
            "base_url": base_url,
            "auth": {
                "type": "api_key",
                "name": key_header,
                "api_key": api_key,
                "location": "header",
            },
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": table.name,
                "endpoint": {
                    "path": f"/{table.name}",
                    "data_selector": table.name,
                    "paginator": NextPagePaginator(
                        cursor_param="next_page", on_page=on_page(table.name)
                    ),
                },
                "columns": column_hints(table),
                "processing_steps": [{"map": drop_null_objects(table)}],
            }
            for table in TABLES
        ],
    }


def analytics_api_source(
    base_url: str,
    api_key: str,
    key_header: str,
    on_page: Callable[[str], PageCallback | None] = lambda resource: None,
) -> DltSource:
    """The dlt source for users, leads and campaigns (see ``seed_config`` for the arguments)."""
    return rest_api_source(
        seed_config(base_url, api_key, key_header, on_page), name=SOURCE_NAME
    )
