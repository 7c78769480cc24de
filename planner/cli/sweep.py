"""``rackplan sweep GRID.toml``: plan every scenario of a grid file, streaming rows to a file."""

from __future__ import annotations

import sys
import time

import click

from planner.cli.options import pass_catalogue
from planner.cli.progress import Reporter
from planner.cli.types import Count, output_option
from planner.errors import InfeasibleError
from planner.report.tables import format_progress
from planner.studies.executors import EXECUTORS, default_jobs
from planner.studies.sweep import SWEEP_FORMATS, load_grid, run_sweep

# A terminal gets a redrawn bar (planner.cli.progress); a log (not a terminal) a line per tenth.
LOG_STEPS = 10
MAX_JOBS = 1024  # worker processes: more would exhaust the machine before planning anything


class Progress:
    """Progress bar on stderr: count, rate and time left; on a terminal one bar redrawn by tqdm (`Reporter`)
    and left in place when done, otherwise (a log) one line per tenth."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.first: int | None = None
        self.last_step = -1
        self.bar = Reporter("sweep", enabled and self.tty, clock=time.perf_counter, line=self._line, leave=True)

    def _line(self, what: str, done: int, total: int, elapsed_s: float) -> str:
        return format_progress(done, total, elapsed_s, done - (self.first or 0))

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.first is None:
            self.first = done  # rows kept by --resume do not count towards the rate
        if self.tty:
            self.bar(done, total)
            return
        step = done * LOG_STEPS // max(total, 1)
        if step != self.last_step:
            click.echo(self._line("sweep", done, total, time.perf_counter() - self.start), err=True)
            self.last_step = step


@click.command("sweep")
@click.argument("grid", type=click.Path(dir_okay=False))
@output_option("--output", "-o", required=True,
               help="Results file: .csv or .jsonl (rows are written as scenarios finish, then sorted).")
@click.option("--format", "fmt", type=click.Choice(SWEEP_FORMATS), default=None,
              help="csv or jsonl (default: from the --output file name).")
@click.option("--jobs", "-j", type=Count(1, MAX_JOBS), default=None,
              help=f"Local worker processes, or CPUs of a local Ray instance "
                   f"(default: all cores, {default_jobs()} here).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="local processes, or ray (the ray extra).")
@click.option("--address", default=None,
              help="Ray cluster address (e.g. ray://head:10001 or auto); without it a local Ray instance is started.")
@click.option("--resume", is_flag=True, default=False,
              help="Keep the rows already in --output and plan only the missing scenarios.")
@click.option("--no-progress", "--quiet", "no_progress", is_flag=True, default=False,
              help="No progress bar on stderr (--quiet, as on the other long commands).")
@pass_catalogue
def sweep(grid, output, fmt, jobs, executor, address, resume, no_progress, catalogue_dirs):
    """Plan every scenario of GRID.toml (models x systems x budgets x workloads x latency floors x fabrics).

    Rows stream to --output as scenarios finish and are flushed one by one, so an interrupted sweep loses
    no finished row; --resume skips them. The finished file is sorted by scenario index, the same row for
    row whichever executor ran it.
    """
    specs, settings = load_grid(grid, catalogue_dirs)
    try:
        summary = run_sweep(specs, settings, output, fmt, executor, jobs, address, resume, Progress(not no_progress))
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: the finished rows are in {output}; rerun with --resume to complete it", err=True)
        raise
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items() if v)
    damaged = f", {summary.damaged} damaged lines dropped" if summary.damaged else ""
    click.echo(f"{summary.total} scenarios ({summary.skipped} kept from {output}{damaged}, {summary.ran} planned: "
               f"{counts or 'none'}) in {summary.elapsed_s:.1f} s, {summary.rate_per_s:.1f} scenarios/s -> {output}",
               err=True)
    if summary.ran and not summary.counts.get("ok") and not summary.skipped:
        raise InfeasibleError(f"every scenario failed ({counts}); the reason of each is in {output}")


def register(group: click.Group) -> None:
    """Attach ``sweep`` to ``group``."""
    group.add_command(sweep)
