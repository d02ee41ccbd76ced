"""Layers only point down: a module imports only from layers below its own (or its own package).

schema, settings, exceptions        what everything knows
sandbox                             the fake API (schema only)
api/                                the dlt source of the API
warehouse/                          the dlt pipeline, SQL over the warehouse, its lock
ingest/                             the raw assets
checks/, models/                    what reads the raw tables (ingest.specs only)
automation                          jobs, schedules, sensors
definitions                         composes everything
local, demo, dev                    `make demo` / `make dev`
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics_assets.settings import PROJECT_DIR

PACKAGE = "analytics_assets"
RANKS = {
    "": 0,  # analytics_assets/__init__.py
    "schema": 0,
    "settings": 0,
    "exceptions": 0,
    "sandbox": 1,
    "api": 2,
    "warehouse": 3,
    "ingest": 4,
    "checks": 5,
    "models": 5,
    "automation": 6,
    "definitions": 7,
    "local": 8,
    "demo": 9,
    "dev": 9,
}
ABOVE_INGEST_MAY_USE = {"analytics_assets.ingest.specs"}
"""What checks, models and automation may take from ingest: the raw assets' keys and specs."""


def _room(module: str) -> str:
    """The layer a module belongs to: its first part below the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    relative = path.relative_to(PROJECT_DIR).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Modules of the package that ``source`` (of ``module``) imports, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts[: len(parts) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [base]
    return [name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")]


def upward_imports(module: str, source: str, is_package: bool = False) -> list[str]:
    """``importer -> imported`` for each import in ``source`` that does not point down."""
    room, rank = _room(module), RANKS[_room(module)]
    wrong = []
    for imported in _imports(source, module, is_package):
        target = _room(imported)
        if target == room:
            continue
        below = RANKS[target] < rank
        if target == "ingest" and rank > RANKS["ingest"] and room != "definitions":
            below = below and any(imported.startswith(m) for m in ABOVE_INGEST_MAY_USE)
        if not below:
            wrong.append(f"{module} -> {imported}")
    return wrong


def _modules() -> list[Path]:
    return sorted((PROJECT_DIR / PACKAGE).rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    rooms = {_room(_module_name(path)) for path in _modules()}
    assert rooms <= set(RANKS), rooms - set(RANKS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _module_name(p))
def test_imports_point_down(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert upward_imports(_module_name(path), source, path.name == "__init__.py") == []


@pytest.mark.parametrize(
    ("module", "source", "wrong"),
    [
        (
            "analytics_assets.warehouse.probe",
            "from analytics_assets.ingest.assets import analytics_api_raw\n"
            "from analytics_assets.schema import TABLES\nfrom .sql import Warehouse\n",
            ["analytics_assets.warehouse.probe -> analytics_assets.ingest.assets"],
        ),
        (
            "analytics_assets.api.probe",
            "from ..warehouse.lock import WAREHOUSE_POOL\n",
            ["analytics_assets.api.probe -> analytics_assets.warehouse.lock"],
        ),
        (
            "analytics_assets.models.probe",
            "from analytics_assets.ingest.assets import x\nfrom analytics_assets.checks import y\n"
            "from analytics_assets.ingest.specs import raw_asset_key\n",
            [
                "analytics_assets.models.probe -> analytics_assets.ingest.assets",
                "analytics_assets.models.probe -> analytics_assets.checks",
            ],
        ),
    ],
)
def test_an_import_that_does_not_point_down_is_caught(
    module: str, source: str, wrong: list[str]
) -> None:
    assert upward_imports(module, source) == wrong
