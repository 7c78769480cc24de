"""Commands imported on first use: ``--help`` and ``--version`` load no numpy, PuLP or HiGHS."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from planner.cli.main import COMMANDS, cli, main

HEAVY = ("numpy", "pulp", "highspy", "pydantic", "tabulate", "matplotlib", "ray", "hypothesis")
PROBE = """
import sys
from planner.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print(" ".join(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def _loaded(argv):
    """The heavy packages a fresh interpreter has imported after running ``rackplan argv``."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)], capture_output=True,
                          text=True, check=True)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_import_nothing_heavy(argv):
    assert _loaded(argv) == ""


def test_version_is_the_installed_packages_without_reading_its_metadata():
    # planner.__version__ is the one home of the version: the installed metadata (pyproject.toml's dynamic
    # version) agrees with it, and --version prints it without importing importlib.metadata (email, zipfile).
    from importlib.metadata import version

    import planner

    assert version("rackplan") == planner.__version__
    probe = ("import sys; from planner.cli.main import main\ntry: main(['--version'])\n"
             "except SystemExit: print('importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout == f"rackplan, version {planner.__version__}\nFalse\n"


@pytest.mark.parametrize("argv", [["gpus"], ["systems"], ["fabrics"], ["models"], ["show", "gpu", "h200"],
                                  ["show", "system", "hgx-h200"], ["show", "model", "qwen3-32b"]])
def test_catalogue_listings_load_no_solver(argv):
    # a listing reads the catalogue and prints a table (tabulate), never the MILP stack or the plots; the specs
    # are records, so whether pydantic loads depends on whether a file is validated (a cold TOML cache)
    loaded = set(_loaded(argv).split())
    assert "tabulate" in loaded
    assert not loaded & {"pulp", "highspy", "matplotlib", "ray", "hypothesis"}


def test_table_lists_every_command_its_modules_register():
    registered = {}
    for module in sorted({m for m, _ in COMMANDS.values()}):
        group = click.Group()
        importlib.import_module(module).register(group)
        registered.update({name: module for name in group.commands})
    assert registered == {name: module for name, (module, _) in COMMANDS.items()}


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("limit", [20, 45, 60, 500])
def test_listed_help_is_the_commands_own(name, limit):
    # the one-line help `rackplan --help` shows without importing is what the command itself gives
    shown = click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)
    assert shown == cli.commands[name].get_short_help_str(limit)


def test_help_lists_the_same_text_before_and_after_loading():
    from click.testing import CliRunner
    before = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        cli.commands[name]  # noqa: B018 - loads the command
    after = CliRunner().invoke(cli, ["--help"]).output
    assert before == after
    assert "plan       Throughput-optimal plan for a rack or GPU budget (MILP," in before


OTHER_STACKS = """
import sys
from planner.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))), file=sys.stderr)
"""
STACKS = ("planner.training", "planner.studies.compare", "planner.studies.frontier", "planner.fleet")


def _stacks(argv, prefixes=STACKS):
    """The other commands' stacks (training, compare/frontier, fleet) a fresh ``rackplan argv`` imported."""
    done = subprocess.run([sys.executable, "-c", OTHER_STACKS.format(argv=argv, prefixes=prefixes)],
                          capture_output=True, text=True, check=True)
    return set(done.stderr.strip().splitlines()[-1].split()) if done.stderr.strip() else set()


def test_a_serving_plan_imports_no_other_commands_stack():
    # the grid and training option groups quote their stacks' defaults: built on first use, not by `plan`
    assert _stacks(["plan", "--help"]) == set()
    assert _stacks(["plan", "--model", "llama-3.1-8b", "--gpus", "8", "--top", "1"]) == set()


ISL_OSL_STACK = ("planner.serving.aggregated", "planner.serving.fixed_point", "planner.serving.prefill")


def test_a_decode_plan_loads_no_isl_osl_stack_and_an_isl_osl_plan_does():
    # the serving fixed point and the aggregated step are imported by the evaluator when a workload has prompts,
    # the prefill pass when `evaluate` reports it: a steady-decode plan (the default) scores without them
    assert _stacks(["plan"], ISL_OSL_STACK) == set()
    names = ["--model", "qwen3-30b-a3b", "--system", "hgx-h200", "--isl", "1024", "--osl", "256"]
    assert _stacks(["plan", *names, "--gpus", "8", "--top", "1"], ISL_OSL_STACK) == set(ISL_OSL_STACK[:2])
    assert _stacks(["evaluate", *names, "--tp", "2"], ISL_OSL_STACK) == set(ISL_OSL_STACK)


def test_the_commands_that_use_them_still_load_them():
    assert {"planner.training.resolve", "planner.training.workload"} <= _stacks(["train", "plan", "--help"])
    assert {"planner.studies.compare", "planner.studies.frontier"} <= _stacks(["compare", "--help"])


def test_a_plan_never_loads_masked_arrays_nor_the_diagnosis():
    # np.median's NaN check imports numpy.ma (10-20 ms of a plan's start on a 2-core machine); the kernel
    # tables take their medians with planner.engine.kernels.tables.middle instead. The diagnosis of an
    # infeasible search (planner.search.diagnose) loads only when nothing is feasible.
    probe = ("import sys; from planner.cli.main import main\ntry: main({argv!r})\n"
             "except SystemExit: print('numpy.ma' in sys.modules, 'planner.search.diagnose' in sys.modules, "
             "file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe.format(argv=["plan"])], capture_output=True, text=True,
                          check=True)
    assert done.stderr.strip().splitlines()[-1] == "False False"
    # a TPOT floor nothing meets: the search says why, so the diagnosis is loaded then
    done = subprocess.run([sys.executable, "-c", probe.format(argv=["plan", "--max-tpot-ms", "0.001"])],
                          capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "False True"
    assert done.stderr.startswith("error: latency: the best reachable tokens/s per user is")


PLUGIN_PROBE = """
import sys
from planner.cli.main import main
try:
    main(["show", "gpu", "h200"])
except SystemExit:
    pass
from pydantic.plugin import _loader
print("scanned" if _loader._plugins is not None else "not scanned", file=sys.stderr)
"""


@pytest.mark.parametrize(("env", "expected"), [({}, "not scanned"), ({"PYDANTIC_DISABLE_PLUGINS": ""}, "scanned")])
def test_commands_skip_the_pydantic_plugin_scan_unless_the_user_asks(env, expected):
    # `show` validates the catalogue file it reads (the TOML cache off: a first run); pydantic would scan every
    # installed package's entry points for its plugins at the first validator (planner.cli.main.PYDANTIC_PLUGINS):
    # skipped unless the variable is set
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"} | env
    environ["RACKPLAN_CACHE_DIR"] = ""
    done = subprocess.run([sys.executable, "-c", PLUGIN_PROBE], capture_output=True, text=True, check=True,
                          env=environ)
    assert done.stderr.strip().splitlines()[-1] == expected


GC_PROBE = """
import gc, sys
import planner.cli.main as m
collections = []
gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
real_resume = m.resume_gc

def resume():  # the group's callback: the command's modules are loaded
    print("loaded", len(collections), gc.isenabled(), file=sys.stderr)
    real_resume()
    print("resumed", gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)

m.resume_gc = resume
sys.argv = ["rackplan", *{argv!r}]
try:
    m.main({call})
except SystemExit:
    pass
print("end", gc.isenabled(), file=sys.stderr)
"""


def _gc_trace(argv, call=""):
    done = subprocess.run([sys.executable, "-c", GC_PROBE.format(argv=argv, call=call)], capture_output=True,
                          text=True, check=True)
    return [line for line in done.stderr.splitlines() if line.split()[0] in ("loaded", "resumed", "end")]


def test_the_console_script_loads_a_command_with_the_collector_paused_then_collects():
    # `plan --help` loads numpy, PuLP, pydantic and the planner (~450 modules): with the collector on that is
    # ~100 collections (planner.cli.main.pause_gc); paused: none, then frozen and on again for the run
    # (main's own resume_gc as it returns, the second pair, finds nothing paused)
    assert _gc_trace(["plan", "--help"]) == ["loaded 0 False", "resumed True True", "loaded 0 True",
                                             "resumed True True", "end True"]
    # the same command called as main(argv) (a program, the tests) leaves the collector alone: it collects
    loaded, resumed, end = _gc_trace(["plan", "--help"], call="sys.argv[1:]")
    assert int(loaded.split()[1]) > 0 and loaded.endswith("True")
    assert (resumed, end) == ("resumed True False", "end True")


@pytest.mark.parametrize("argv", [["--version"], ["--no-such-option"], ["no-such-command"]])
def test_the_collector_is_on_again_when_no_command_runs(argv):
    # the group's callback never runs (click exits first): main turns the collector back on as it returns
    assert _gc_trace(argv)[-1] == "end True"


def test_a_bare_group_prints_its_help_as_lines(capsys):
    # `rackplan train` names a group, no command: click's NoArgsIsHelpError carries the group's help, which
    # the one-line error path used to print as one line of literal "\n"s; now the help's own lines, exit 2
    # (click's usage exit code, as for any usage error: the exit codes in `rackplan --help`).
    with pytest.raises(SystemExit) as info:
        main(["train"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "\\n" not in err
    assert err.splitlines()[0] == "Usage: rackplan train [OPTIONS] COMMAND [ARGS]..."
    assert any(line.split()[:1] == ["plan"] for line in err.splitlines())  # the commands listed, one a line


@pytest.mark.parametrize("argv", [["plan"], ["plan", "--model", "qwen3-235b-a22b", "--system", "hgx-h200",
                                             "--gpus", "8", "--isl", "4096", "--osl", "1024"]])
def test_a_plan_from_warm_caches_imports_no_pydantic(argv, tmp_path):
    # Every spec a plan builds (hardware, model, engine profile, workload) is a specbase record: once the first
    # run has validated the files it reads and cached them, a plan (steady decode, the default, or isl/osl)
    # imports no pydantic at all (~0.1 s and ~12 MB of a default plan before the specs became records).
    env = {**os.environ, "RACKPLAN_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=("pydantic", "pulp"))],
                           capture_output=True, text=True, check=True, env=env) for _ in range(2)]
    loaded = [run.stderr.strip().splitlines()[-1] for run in runs]
    assert loaded == ["pulp pydantic", "pulp"]  # the first validated the files; the second solved its MILP without


def test_a_fleet_run_from_warm_caches_imports_no_pydantic(tmp_path):
    # The fleet file's tables are specbase records too (planner.fleet.spec, read with specbase.checks.from_table):
    # after a first run has validated the catalogue files and models it reads, `rackplan fleet` imports no
    # pydantic (its file schema's imports were ~0.1-0.17 s of a ~0.85 s run on a 2-core EPYC).
    env = {**os.environ, "RACKPLAN_CACHE_DIR": str(tmp_path)}
    argv = ["fleet", str(Path(__file__).resolve().parents[3] / "examples" / "fleet.toml"), "--format", "csv"]
    runs = [subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=("pydantic", "pulp"))],
                           capture_output=True, text=True, check=True, env=env) for _ in range(2)]
    loaded = [run.stderr.strip().splitlines()[-1] for run in runs]
    assert loaded == ["pulp pydantic", "pulp"]  # the first validated the catalogue files; the second did not
