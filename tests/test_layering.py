"""The layering of STYLE.md, checked by walking every module's imports with ``ast``.

catalogue files -> specs -> candidates (numpy) -> MILP (PuLP) -> Plan -> verification -> report -> CLI.
Inside ``planner`` the subpackages are stages in the order of ``STAGES``: a module may import its own
stage and any lower one, never a higher one (the top-level core modules are the lowest stage, the
public API in ``planner/__init__.py`` sits just below the CLI).
``specbase`` (records and field checks, the base of every spec) imports none of the others, nor pydantic;
``hardware`` and ``models`` import nothing from ``planner``; only the formulation/solve modules
import ``pulp``; only ``planner.report.tables`` imports ``tabulate``; only ``planner.report.plot`` imports
``matplotlib`` and only
``planner.studies.executors`` imports ``ray`` (both optional extras); only the CLI imports ``click``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("specbase", "hardware", "models", "planner")
PULP_MODULES = {"planner.milp.serving", "planner.milp.solve", "planner.milp.fleet", "planner.milp.fleet_solve",
                "planner.milp.training", "planner.milp.choice"}
TABULATE_MODULES = {"planner.report.tables"}
MATPLOTLIB_MODULES = {"planner.report.plot"}  # the optional plot extra, imported lazily
RAY_MODULES = {"planner.studies.executors"}  # the optional ray extra, imported lazily


def _modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            yield ".".join(rel.parts).removesuffix(".__init__"), path


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = list(_modules())

# planner's stages, lowest first. "core" is the top-level modules (errors, units, quant, budget).
STAGES = ("core", "engine", "serving", "training", "milp", "verify", "search", "fleet", "calibration",
          "report", "studies", "api", "cli")


def stage_of(module: str) -> int | None:
    """The stage index of a ``planner`` module, or None outside ``planner``."""
    parts = module.split(".")
    if parts[0] != "planner":
        return None
    if len(parts) == 1:
        return STAGES.index("api")
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    assert (ROOT / "planner" / f"{parts[1]}.py").exists(), f"{module}: not a stage of {STAGES} nor a core module"
    return STAGES.index("core")


def test_every_subpackage_is_a_stage():
    subpackages = {p.name for p in (ROOT / "planner").iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(STAGES) - {"core", "api"}


@pytest.mark.parametrize("module,path", [(m, p) for m, p in MODULES if m.startswith("planner")],
                         ids=[m for m, _ in MODULES if m.startswith("planner")])
def test_stage_order(module, path):
    # Every import, lazy ones inside functions included: a lower stage never imports a higher one.
    own = stage_of(module)
    for name in _imports(path):
        other = stage_of(name)
        if other is not None and name != "planner":
            assert other <= own, f"{module} ({STAGES[own]}) imports {name} ({STAGES[other]})"


def test_every_package_has_modules():
    # Guards the walk itself: an empty list would make every check below pass vacuously.
    names = {m for m, _ in MODULES}
    assert {"specbase.checks", "hardware.specs", "models.counts", "planner.serving.roofline",
            "planner.cli.main"} <= names


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_layers(module, path):
    imported = _imports(path)
    roots = {name.split(".")[0] for name in imported}
    if module.startswith("specbase"):
        assert not roots & {"hardware", "models", "planner", "pydantic"}, f"{module} imports {roots}"
    if module.startswith(("hardware", "models")):
        assert "planner" not in roots, f"{module} imports planner"
    if module.startswith("hardware"):
        assert "models" not in roots
    if module.startswith("models"):
        assert "hardware" not in roots
    if "pulp" in roots or "highspy" in roots:
        assert module in PULP_MODULES, f"{module} imports pulp/highspy"
    if "tabulate" in roots:
        assert module in TABULATE_MODULES, f"{module} imports tabulate"
    if "matplotlib" in roots:
        assert module in MATPLOTLIB_MODULES, f"{module} imports matplotlib"
    if "ray" in roots:
        assert module in RAY_MODULES, f"{module} imports ray"
    if "click" in roots:
        assert module == "planner.cli.main" or module.startswith("planner.cli"), f"{module} imports click"
