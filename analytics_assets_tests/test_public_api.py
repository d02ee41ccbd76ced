"""The package uses only the public API of the libraries it builds on.

An underscore name (``dlt.sources.helpers.requests.retry._make_retry``,
``dagster._core...``) can change in any release without notice: a dlt or Dagster upgrade would
then break the sync silently. This test reads every module's imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics_assets.settings import PROJECT_DIR

PACKAGE = PROJECT_DIR / "analytics_assets"
LIBRARIES = ("dlt", "dagster", "dagster_dlt", "requests", "urllib3", "tenacity", "pyarrow")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _private_imports(path: Path) -> list[str]:
    """``module.name`` of every import in ``path`` that names an underscore part of a library."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            private = any(part.startswith("_") and not part.startswith("__") for part in parts)
            if parts[0] in LIBRARIES and private:
                found.append(name)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_librarys_underscore_names(path: Path) -> None:
    assert _private_imports(path) == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from dlt.sources.helpers.requests.retry import _make_retry\n"
        "from dagster._core.definitions import x\n"
        "import requests\n"
        "from analytics_assets._x import y\n"
    )

    assert _private_imports(module) == [
        "dlt.sources.helpers.requests.retry._make_retry",
        "dagster._core.definitions.x",
    ]
