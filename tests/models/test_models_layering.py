"""`models` imports nothing from `planner` or `hardware`, nor the CLI/report/solver libraries."""

import ast
from pathlib import Path

import models.spec

FORBIDDEN = {"planner", "hardware", "click", "tabulate", "pulp", "highspy"}


def test_models_package_imports_no_forbidden_module():
    # models.spec, not models: the editable install registers `models` as a namespace
    # package under pytest, where `models.__file__` is None.
    root = Path(models.spec.__file__).resolve().parent
    leaks = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            leaks += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert leaks == []
