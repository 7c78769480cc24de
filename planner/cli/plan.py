"""``rackplan plan``, ``min-gpus`` and ``evaluate``: serving questions, each one call of the public API."""

from __future__ import annotations

import click

import planner
from planner.cli.options import emit, evaluate_options, pass_catalogue, plan_defaults, plan_options
from planner.cli.types import POSITIVE
from planner.errors import InputError
from planner.report.plan_report import PLAN_COLUMNS, format_plan, plan_columns
from planner.report.tables import format_evaluation

disagg_option = click.option("--disagg", is_flag=True, default=False,
                             help="Disaggregated serving: size a prefill pool and a decode pool together "
                                  "(isl/osl workloads).")
columns_options = (
    click.option("--columns", default=None, metavar="NAMES",
                 help="Table columns to show, comma-separated (e.g. layout,batch,total_tps,ttft); names: "
                      f"{', '.join(PLAN_COLUMNS)}."),
    click.option("--wide", is_flag=True, default=False, help="Show every table column (wider than 120)."),
)


def table_options(fn):
    """``--columns`` and ``--wide`` (the plan table's columns)."""
    for option in reversed(columns_options):
        fn = option(fn)
    return fn


def _columns(columns: str | None, wide: bool):
    return plan_columns([c.strip() for c in columns.split(",") if c.strip()] if columns else None, wide)


def _report(doc: dict, fmt: str, cols) -> str:
    if fmt != "html":
        return format_plan(doc, fmt, cols)
    if "pools" in doc:  # --disagg: the fleet page of its pools
        from planner.report.html_pages import fleet_html
        return fleet_html(doc)
    from planner.report.html import plan_html
    return plan_html(doc)


@click.command("plan", epilog=plan_defaults)
@disagg_option
@table_options
@plan_options
@pass_catalogue
def plan(fmt, output, columns, wide, **options):
    """Throughput-optimal plan for a rack or GPU budget (MILP, verified by the evaluator).

    Training jobs: `rackplan train plan`.
    """
    cols = _columns(columns, wide)
    emit(_report(planner.plan(**options), fmt, cols), output)


@click.command("min-gpus", epilog=plan_defaults)
@click.option("--target-tps", type=POSITIVE, default=None,
              help="Total tokens/s to reach (required).")
@disagg_option
@table_options
@plan_options
@pass_catalogue
def min_gpus(target_tps, fmt, output, columns, wide, **options):
    """Fewest GPUs (then racks) that reach --target-tps (the budget is the cap searched).

    Training jobs: `rackplan train min-gpus`.
    """
    if target_tps is None:
        raise InputError("min-gpus needs --target-tps (or --mode training with --target-tokens-per-s)")
    cols = _columns(columns, wide)
    emit(_report(planner.min_gpus(target_tps, **options), fmt, cols), output)


@click.command("evaluate")
@evaluate_options
@pass_catalogue
def evaluate(fmt, output, **options):
    """Score one plan: step time split, limit, bounds, fabric load, memory per GPU.

    Example: rackplan evaluate --model qwen3-235b-a22b --system gb200-nvl72 --tp 4 --ep 4 --batch 64
    --quant fp8 --kv-quant fp8 --tokens-cached 8192
    """
    doc = planner.evaluate(**options)
    if fmt == "html":
        from planner.report.html_pages import evaluation_html
        emit(evaluation_html(doc, doc.title), output)
    else:
        emit(format_evaluation(doc, fmt, doc.title), output)


def register(group: click.Group) -> None:
    """Attach ``plan``, ``min-gpus`` and ``evaluate`` to ``group``."""
    for cmd in (evaluate, plan, min_gpus):
        group.add_command(cmd)
