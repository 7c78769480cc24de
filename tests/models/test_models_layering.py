"""`models` imports nothing from `planner` or `hardware`, nor the CLI/report/solver libraries."""

import ast
import subprocess
import sys
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


def test_the_specs_load_without_pydantic():
    # pydantic validates only the catalogue's SOURCES.toml (models/sources_schema.py, imported when that
    # file is parsed): with pydantic unimportable, the specs still build from a config.json, checks and all
    probe = ("import sys; sys.modules['pydantic'] = None; "
             "from models.catalogue import DATA_DIR; from models.hf import load_hf_config; "
             "from specbase.checks import FieldError; "
             "m = load_hf_config(DATA_DIR / 'deepseek-v3.json'); print(m.moe.num_experts, m.head_dim); "
             "import dataclasses\n"
             "try: dataclasses.replace(m, hidden_size=0)\n"
             "except FieldError as exc: print(exc)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    # DeepSeek-V3: 256 routed experts; MLA query/key width 128 + 64 = 192
    assert out.splitlines() == ["256 192", "field 'hidden_size' must be > 0 (got 0)"]
