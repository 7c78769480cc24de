"""``rackplan plan``, ``min-gpus`` and ``evaluate``: serving questions, each one call of the public API."""

from __future__ import annotations

import click

import planner
from planner.cli.options import POSITIVE, emit, evaluate_options, pass_catalogue, plan_defaults, plan_options
from planner.errors import InputError
from planner.report.tables import format_evaluation, format_plan

disagg_option = click.option("--disagg", is_flag=True, default=False,
                             help="Disaggregated serving: size a prefill pool and a decode pool together "
                                  "(isl/osl workloads).")


@click.command("plan", epilog=plan_defaults)
@disagg_option
@plan_options
@pass_catalogue
def plan(fmt, output, **options):
    """Throughput-optimal plan for a rack or GPU budget (MILP, verified by the evaluator).

    Training jobs: `rackplan train plan`.
    """
    emit(format_plan(planner.plan(**options), fmt), output)


@click.command("min-gpus", epilog=plan_defaults)
@click.option("--target-tps", type=POSITIVE, default=None,
              help="Total tokens/s to reach (required).")
@disagg_option
@plan_options
@pass_catalogue
def min_gpus(target_tps, fmt, output, **options):
    """Fewest GPUs (then racks) that reach --target-tps (the budget is the cap searched).

    Training jobs: `rackplan train min-gpus`.
    """
    if target_tps is None:
        raise InputError("min-gpus needs --target-tps (or --mode training with --target-tokens-per-s)")
    emit(format_plan(planner.min_gpus(target_tps, **options), fmt), output)


@click.command("evaluate")
@evaluate_options
@pass_catalogue
def evaluate(fmt, output, **options):
    """Score one plan: step time split, limit, bounds, fabric load, memory per GPU.

    Example: rackplan evaluate --model qwen3-235b-a22b --system gb200-nvl72 --tp 4 --ep 4 --batch 64
    --quant fp8 --kv-quant fp8 --tokens-cached 8192
    """
    doc = planner.evaluate(**options)
    emit(format_evaluation(doc, fmt, doc.title), output)


def register(group: click.Group) -> None:
    """Attach ``plan``, ``min-gpus`` and ``evaluate`` to ``group``."""
    for cmd in (evaluate, plan, min_gpus):
        group.add_command(cmd)
