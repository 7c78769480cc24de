"""`hardware` is the bottom layer: it imports nothing from planner/models and no CLI/solver libs."""

from __future__ import annotations

import ast
from pathlib import Path

import hardware

FORBIDDEN = {"planner", "models", "click", "tabulate", "pulp", "highspy"}
PACKAGE = Path(hardware.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_hardware_imports_no_upper_layer() -> None:
    leaks = {
        path.name: sorted(imported_roots(path) & FORBIDDEN)
        for path in PACKAGE.rglob("*.py")
        if imported_roots(path) & FORBIDDEN
    }
    assert leaks == {}


def test_modules_stay_small() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 400, sizes
