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

import sys

import click

from hardware.errors import CatalogueError
from models.errors import ModelError
from planner.cli import calibrate as calibrate_cmd
from planner.cli import catalogue as catalogue_cmds
from planner.cli import compare as compare_cmds
from planner.cli import fleet as fleet_cmd
from planner.cli import plan as plan_cmds
from planner.cli import sweep as sweep_cmd
from planner.cli import train as train_cmds
from planner.cli.alias import ModeAliasGroup
from planner.cli.options import CATALOGUE_ENV
from planner.errors import PlannerError

USER_ERRORS = (PlannerError, CatalogueError, ModelError)
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h: a bug in rackplan, not in the input
EXIT_CODES = ("Exit codes: 0 success; 1 bad input (a file, a name or a value the planner refuses) or no "
              "feasible plan; 2 usage error (unknown option, a value of the wrong type or out of range); "
              f"{EXIT_INTERNAL} internal error (a bug: rerun with --debug and report the traceback).")


@click.group(cls=ModeAliasGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.option("--catalogue", "catalogue_dirs", multiple=True, envvar=CATALOGUE_ENV,
              type=click.Path(exists=True, file_okay=False),
              help=f"Extra catalogue directory of GPU/system/fabric TOML files (repeatable; env {CATALOGUE_ENV}, "
                   "paths separated by ':').")
@click.option("--debug", is_flag=True, default=False, help="Show the traceback of an internal error.")
@click.version_option(package_name="rackplan")
@click.pass_context
def cli(ctx: click.Context, catalogue_dirs: tuple[str, ...], debug: bool) -> None:
    """Plan LLM serving and training deployments on GPU racks."""
    ctx.ensure_object(dict)
    ctx.obj["catalogue_dirs"] = tuple(catalogue_dirs)


for module in (catalogue_cmds, plan_cmds, train_cmds, fleet_cmd, compare_cmds, sweep_cmd, calibrate_cmd):
    module.register(cli)


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped (a value may carry them)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _fail(text: str, code: int) -> None:
    click.echo(one_line(text), err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        cli.main(args=args, prog_name="rackplan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        sub = exc.ctx.command_path.split(' ', 1)[1] if exc.ctx and ' ' in exc.ctx.command_path else ''
        hint = f" (see: rackplan {sub} --help)"
        _fail(f"error: {exc.format_message()}{hint}".replace("rackplan  --help", "rackplan --help"), exc.exit_code)
    except click.ClickException as exc:
        _fail(f"error: {exc.format_message()}", exc.exit_code)
    except USER_ERRORS as exc:
        _fail(f"error: {exc}", 1)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except RecursionError:
        _fail("error: the input nests too deeply (flatten it)", 1)
    except Exception as exc:  # the last resort: a bug, never a traceback unless asked for
        if "--debug" in args[: args.index("--") if "--" in args else len(args)]:
            raise
        _fail(f"internal error: {type(exc).__name__}: {str(exc)[:300]}; rerun with --debug for the traceback",
              EXIT_INTERNAL)
    sys.exit(0)


if __name__ == "__main__":
    main()
