"""``rackplan frontier``: tokens/s per GPU against tokens/s per user, one line per scenario."""

from __future__ import annotations

import click

from planner.cli.compare import build, fixed_options, grid_options
from planner.cli.options import emit, engine_options, format_option, pass_catalogue
from planner.studies.frontier import DEFAULT_POINTS, format_frontier, frontier, plot_title


@click.command("frontier")
@grid_options
@fixed_options
@click.option("--points", type=click.IntRange(min=2), default=DEFAULT_POINTS, show_default=True,
              help="Latency floors planned per line (the unconstrained optimum is the first).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw the chart to FILE.png or FILE.svg (needs the plot extra: matplotlib).")
@engine_options
@format_option
@pass_catalogue
def frontier_cmd(points, plot_path, fmt, output, catalogue_dirs, **kw):
    """Pareto frontier of tokens/s per GPU vs tokens/s per user, traced by sweeping the latency floor.

    Each scenario of the grid (e.g. --system gb200-nvl72,hgx-h200 or --model a,b) is one line.
    Example: rackplan frontier --model qwen3-30b-a3b --system hgx-h200,mi355x-8 --plot frontier.png
    """
    specs, settings = build(kw, catalogue_dirs)
    rows = frontier(specs, settings, points)
    if plot_path:
        from planner.report.plot import plot_frontier
        plot_frontier(rows, plot_path, plot_title(rows))
    emit(format_frontier(rows, fmt), output)


def register(group: click.Group) -> None:
    """Attach ``frontier`` to ``group``."""
    group.add_command(frontier_cmd)
