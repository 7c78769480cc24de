"""The options and helpers every command shares that need none of the planner: ``--format``/``--output``,
printing the result and handing over the ``--catalogue`` directories.

Kept apart from `planner.cli.options` (whose help texts quote the library's defaults, so importing it
loads the search, the MILP and the training stack): the catalogue listings (``gpus``, ``models``,
``show``) import only this, and so load no PuLP or HiGHS.
"""

from __future__ import annotations

import functools

import click

from planner.cli.types import output_option
from planner.files import write_text
from planner.report.tables import FORMATS


def group(*decorators):
    """One decorator applying ``decorators`` in order (the first is the first option in ``--help``)."""
    def apply(func):
        for deco in reversed(decorators):
            func = deco(func)
        return func
    return apply


def emit(text: str, output: str | None) -> None:
    """Print ``text`` or write it to ``output`` (atomically: a failed write leaves the old file)."""
    if output is not None:
        write_text(output, text + "\n", "report")
    else:
        click.echo(text)


def pass_catalogue(func):
    """Hand the group's ``--catalogue`` directories to the command as ``catalogue_dirs``."""
    @functools.wraps(func)
    @click.pass_context
    def wrapper(ctx, *args, **kwargs):
        return func(*args, catalogue_dirs=ctx.obj.get("catalogue_dirs", ()), **kwargs)
    return wrapper


report_output_option = output_option("--output", "output", help="Write the report to FILE instead of stdout.")
format_option = group(
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                 help="Output format: text table, markdown, CSV or JSON (JSON prints nothing else)."),
    report_output_option,
)
# Reports that also come as one self-contained HTML page (planner.report.html).
html_format_option = group(
    click.option("--format", "fmt", type=click.Choice((*FORMATS, "html")), default="table", show_default=True,
                 help="Output format: text table, markdown, CSV, JSON (JSON prints nothing else) or one "
                      "self-contained HTML page (tables and charts)."),
    report_output_option,
)
