"""DESIGN.md "One door": pages and HTTP routes reach the app through `ChatService` only.

Read from the source (no import runs), so a forbidden import fails here even if nothing calls it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The store (SQL), the hub and its generations, the publisher, and the context that hands them all out.
BEHIND_THE_DOOR = {"services.store", "services.runtime", "services.generation", "services.publisher"}


def imported(path: Path) -> set[str]:
    """Every module a file names in an import, also `from services import store` and lazy imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def doors() -> list[Path]:
    return sorted([*(ROOT / "components").rglob("*.py"), *(ROOT / "api").rglob("*.py")])


def test_pages_and_routes_import_nothing_behind_chat_service() -> None:
    reached = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in doors()
        for name in imported(path)
        if any(name == banned or name.startswith(f"{banned}.") for banned in BEHIND_THE_DOOR)
    }
    assert reached == set()


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    source = tmp_path / "page.py"
    source.write_text(
        "import services.store\nfrom services import publisher\nfrom services.generation import Generation\n"
        "def f():\n    from services.runtime import AppContext\n"
    )
    assert imported(source) >= BEHIND_THE_DOOR
    assert "components" in {p.parts[-2] for p in doors()} and "api" in {p.parts[-2] for p in doors()}
