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


def hardware_imports(path: Path) -> set[str]:
    """The `hardware` modules a file imports, lazy (in-function) imports included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("hardware."):
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("hardware.")}
    return names


def test_hardware_modules_import_without_a_cycle() -> None:
    # specs < schema < catalogue: a spec knows nothing of the files or the catalogue it came from
    # (specs.py once reached back up for `default_catalogue`, closing a cycle).
    graph = {p.stem: hardware_imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail, name))
        if name in done:
            return
        for child in graph.get(name, ()):
            visit(child, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())
    assert "catalogue" not in graph["specs"] and "schema" not in graph["specs"]
