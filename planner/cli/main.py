"""The ``rackplan`` command line: option parsing and the one place errors become exit codes.

Every command parses its options, calls one library function (the public API of
``planner/__init__.py`` where there is one), formats the result with a pure ``format_*``
function and echoes it. Training has its own group, ``rackplan train``; ``--mode training`` on
``plan``, ``min-gpus`` and ``evaluate`` is an alias of it (``planner.cli.alias``).
Errors of the library (``PlannerError``,
``CatalogueError``, ``ModelError``) become one line on stderr and exit code 1; usage errors
exit with code 2 (click's convention). Anything else is a bug: one line, exit code 70
(``EX_SOFTWARE``), and the traceback only with ``--debug``.
"""

from __future__ import annotations

import gc
import os
import sys

import click

from planner import __version__
from planner.cli.alias import ModeAliasGroup
from planner.cli.lazy import lazy_group
from planner.cli.memory import keep_freed_memory

CATALOGUE_ENV = "RACKPLAN_CATALOGUE"
# Each command's module is imported when the command is looked up (``rackplan --help`` imports
# none: no numpy, PuLP or HiGHS). A line: command, its module under planner.cli, the first
# sentence of its help, what ``--help`` lists (tests/planner/cli/test_lazy_cli.py checks it).
TABLE = """
calibrate calibrate Fit an engine profile's efficiency factors to MEASUREMENTS.csv (robust least squares).
compare compare Optimal plans side by side across systems, budgets, quantisation sets, fabrics, models, contexts.
evaluate plan Score one plan: step time split, limit, bounds, fabric load, memory per GPU.
fabrics catalogue List fabrics with per-GPU bandwidth and message latency.
fleet fleet Plan several models on a fleet of mixed hardware (FLEET_FILE: TOML, see examples/fleet.toml).
frontier compare Pareto frontier of tokens/s per GPU vs tokens/s per user, traced by sweeping the latency floor.
gpus catalogue List GPUs with memory, bandwidth, peak FLOP/s and power.
min-gpus plan Fewest GPUs (then racks) that reach --target-tps (the budget is the cap searched).
models catalogue List catalogue models with parameter counts and KV bytes per token.
plan plan Throughput-optimal plan for a rack or GPU budget (MILP, verified by the evaluator).
show catalogue Show one GPU, system, fabric, model or engine profile: spec, derived figures and sources.
sweep sweep Plan every scenario of GRID.toml (models x systems x budgets x workloads x latency floors x fabrics).
systems catalogue List systems (servers and racks) with their fabric tiers.
train train Plan and score training jobs: layouts, MFU, memory, time to train.
"""
COMMANDS = {name: (f"planner.cli.{module}", text)
            for name, module, text in (line.split(None, 2) for line in TABLE.strip().splitlines())}


def user_errors() -> tuple[type[Exception], ...]:
    """The library's one-line errors (imported when one is raised: ``hardware`` loads the catalogue)."""
    from hardware.errors import CatalogueError
    from models.errors import ModelError
    from planner.errors import PlannerError
    return PlannerError, CatalogueError, ModelError


EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h: a bug in rackplan, not in the input
EXIT_CODES = ("Exit codes: 0 success; 1 bad input (a file, a name or a value the planner refuses) or no "
              "feasible plan; 2 usage error (unknown option, a value of the wrong type or out of range); "
              f"{EXIT_INTERNAL} internal error (a bug: rerun with --debug and report the traceback).")


@click.group(cls=lazy_group(ModeAliasGroup, COMMANDS), context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.option("--catalogue", "catalogue_dirs", multiple=True, envvar=CATALOGUE_ENV,
              type=click.Path(exists=True, file_okay=False),
              help=f"Extra catalogue directory of GPU/system/fabric TOML files (repeatable; env {CATALOGUE_ENV}, "
                   "paths separated by ':').")
@click.option("--debug", is_flag=True, default=False, help="Show the traceback of an internal error.")
@click.version_option(version=__version__, prog_name="rackplan")
@click.pass_context
def cli(ctx: click.Context, catalogue_dirs: tuple[str, ...], debug: bool) -> None:
    """Plan LLM serving and training deployments on GPU racks."""
    resume_gc()  # click runs this once the command (and its modules) is loaded
    ctx.ensure_object(dict)
    ctx.obj["catalogue_dirs"] = tuple(catalogue_dirs)


# Loading a command's modules (numpy, PuLP, pydantic, the planner: ~450 modules) leaves ~45,000 objects
# tracked by the cyclic garbage collector for the life of the process, which traverses them again and again while
# they load: ~100 collections, 18-31 ms of a 0.4 s `rackplan plan` on a 2-core EPYC (timed by gc.callbacks;
# 2-4 ms left with the pause, the run included). The console script (`main()` with no argv: the process is the
# command) pauses the collector until the command is loaded, then freezes what was loaded (kept out of
# every later collection) and collects as usual from there, so a long command (fleet, frontier) still frees
# its cycles. A program calling `main(argv)` or `cli` (the tests, CliRunner) keeps its collector as it is.
_gc_paused = False


def pause_gc() -> None:
    """Pause the cyclic garbage collector while the command loads (when it is on); `resume_gc` ends it."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def resume_gc() -> None:
    """Freeze the objects loaded so far and turn the collector back on, if `pause_gc` paused it."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.freeze()
        gc.enable()


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped (a value may carry them)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _fail(text: str, code: int) -> None:
    click.echo(one_line(text), err=True)
    sys.exit(code)


# pydantic looks for third-party plugins (the installed packages' entry points) when it builds its first
# validator: 2-7 ms of every command that reads a file, rackplan uses none. A value the user set is kept.
PYDANTIC_PLUGINS = ("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``argv``: the arguments, default ``sys.argv[1:]``)."""
    os.environ.setdefault(*PYDANTIC_PLUGINS)
    if argv is not None:
        _run(list(argv))
        return
    pause_gc()
    keep_freed_memory()  # the process is the command: it keeps what it frees until it exits
    try:
        _run(sys.argv[1:])
    finally:
        resume_gc()


def _run(args: list[str]) -> None:
    """Run the command line ``args``; errors become one line on stderr and an exit code."""
    try:
        cli.main(args=args, prog_name="rackplan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare group (`rackplan`, `rackplan train`): its help,
        exc.show()                                      # as lines on stderr, click's usage exit code
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        sub = exc.ctx.command_path.split(' ', 1)[1] if exc.ctx and ' ' in exc.ctx.command_path else ''
        hint = f" (see: rackplan {sub} --help)"
        _fail(f"error: {exc.format_message()}{hint}".replace("rackplan  --help", "rackplan --help"), exc.exit_code)
    except click.ClickException as exc:
        _fail(f"error: {exc.format_message()}", exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except RecursionError:
        _fail("error: the input nests too deeply (flatten it)", 1)
    except Exception as exc:  # the library's one-line errors; else the last resort: a bug, no traceback unless asked
        if isinstance(exc, user_errors()):
            _fail(f"error: {exc}", 1)
        if "--debug" in args[: args.index("--") if "--" in args else len(args)]:
            raise
        _fail(f"internal error: {type(exc).__name__}: {str(exc)[:300]}; rerun with --debug for the traceback",
              EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
