"""``rackplan compare`` and ``rackplan frontier``: a grid of scenarios (one list per axis), one API call each."""

from __future__ import annotations

import click

import planner
from planner.cli.options import compare_options, emit, frontier_options, given, pass_catalogue
from planner.cli.progress import progress_options
from planner.errors import InfeasibleError
from planner.studies.compare import format_compare
from planner.studies.frontier import format_frontier, plot_title


def all_failed(rows: list[dict]) -> None:
    """Exit 1 (after the table, which carries each row's reason) when no scenario has a plan."""
    if rows and not any(r["status"] == "ok" for r in rows):
        reasons = sorted({f"{r['status']}: {' '.join(str(r['reason']).split())}" for r in rows})
        more = f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""
        raise InfeasibleError(f"every scenario failed; {reasons[0][:200]}{more}")


@click.command("compare")
@compare_options
@click.option("--wide", is_flag=True, default=False,
              help="Show every table column (default: the table fits 120 characters, reasons under it).")
@progress_options("compare: scenario")
@pass_catalogue
def compare_cmd(fmt, output, progress, wide, **options):
    """Optimal plans side by side across systems, budgets, quantisation sets, fabrics, models, contexts.

    Every comma-separated list is an axis; the rows are every combination, in the order model, system,
    budget, context, quant set, fabric, serving, latency floor (the first varies slowest).
    Example: rackplan compare --system gb200-nvl72,hgx-h200 --racks 1,2 --model qwen3-30b-a3b
    """
    doc = planner.compare(**given(options), progress=progress)
    progress.clear()
    if fmt == "html":
        from planner.studies.html import compare_html
        emit(compare_html(doc), output)
    else:
        emit(format_compare(doc, fmt, wide), output)
    all_failed(doc["rows"])


@click.command("frontier")
@frontier_options
@progress_options("frontier: solve")
@pass_catalogue
def frontier_cmd(plot_path, fmt, output, progress, **options):
    """Pareto frontier of tokens/s per GPU vs tokens/s per user, traced by sweeping the latency floor.

    Each scenario of the grid (e.g. --system gb200-nvl72,hgx-h200 or --model a,b) is one line.
    Example: rackplan frontier --model qwen3-30b-a3b --system hgx-h200,mi355x-8 --plot frontier.png
    """
    if plot_path:
        from planner.report.plot import check_plot_path
        check_plot_path(plot_path)
    rows = planner.frontier(**options, progress=progress)
    progress.clear()
    if plot_path and any(r["status"] == "ok" for r in rows):
        from planner.report.plot import plot_frontier
        plot_frontier(rows, plot_path, plot_title(rows))
    if fmt == "html":
        from planner.studies.html import frontier_html
        emit(frontier_html(rows), output)
    else:
        emit(format_frontier(rows, fmt), output)
    all_failed(rows)


def register(group: click.Group) -> None:
    """Attach ``compare`` and ``frontier`` to ``group``."""
    group.add_command(compare_cmd)
    group.add_command(frontier_cmd)
