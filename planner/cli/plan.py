"""``rackplan plan`` and ``rackplan min-gpus``: the MILP planner."""

from __future__ import annotations

import click

from planner.serving import resolve
from planner.budget import Budget
from planner.serving.candidates import Limits
from planner.cli import training as training_cmd
from planner.cli.options import (emit, engine_options, format_option, hardware_options, model_option,
                                      pass_catalogue, workload_options)
from planner.cli.training_options import mode_option, pop_training, target_options, training_options
from planner.errors import InputError
from planner.fleet.disagg import plan_disagg
from planner.report.fleet_summary import fleet_document
from planner.search.serving import optimise
from planner.report.tables import format_fleet, format_result
from planner.milp.solve import SOLVERS
from planner.serving.space import DEFAULT_MAX_BATCH, default_space
from planner.report.summary import result_document

DEFAULT_MODEL = "qwen3-235b-a22b"
DEFAULT_SYSTEM = "gb200-nvl72"
DEFAULT_TOKENS_CACHED = 8192


def _ints(text):
    return None if text is None else tuple(int(v) for v in str(text).split(",") if v.strip())


def _floats(text):
    return None if text is None else tuple(float(v) for v in str(text).split(",") if v.strip())


def _strs(text):
    return None if text is None else tuple(v.strip() for v in str(text).split(",") if v.strip())


pin_and_limit_options = [
    click.option("--racks", type=click.IntRange(min=1), default=None, help="Budget in racks (default 1)."),
    click.option("--gpus", "gpu_budget", type=click.IntRange(min=1), default=None, help="Budget in GPUs."),
    click.option("--tp", default=None, help="Pin tensor-parallel degree(s), e.g. 4 or 2,4."),
    click.option("--pp", default=None, help="Pin pipeline stages."),
    click.option("--ep", default=None, help="Pin expert-parallel degree(s)."),
    click.option("--dp", default=None, help="Pin attention data-parallel degree(s)."),
    click.option("--batch", default=None, help="Pin batch size(s) per instance."),
    click.option("--quant", default=None, help="Weight quantisation(s) to consider, e.g. fp8 or fp8,fp4."),
    click.option("--kv-quant", default=None, help="KV-cache quantisation(s) to consider."),
    click.option("--kv-offload-fraction", default=None, help="KV-offload level(s), e.g. 0 or 0,0.25,0.5."),
    click.option("--max-batch", type=click.IntRange(min=1), default=DEFAULT_MAX_BATCH, show_default=True,
                 help="Largest batch of the search space."),
    click.option("--min-tok-per-user", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Per-user decode speed floor, tokens/s (TPOT <= 1/X)."),
    click.option("--max-tpot-ms", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Time-per-output-token ceiling, ms."),
    click.option("--max-ttft-ms", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Time-to-first-token ceiling, ms (isl/osl workloads)."),
    click.option("--max-kw", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Board-power cap over all GPUs in use, kW."),
    click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
                 help="Show the optimum and the next best distinct plans, K rows in all."),
    click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True, help="MILP solver."),
    click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Solver time limit per solve, seconds."),
    click.option("--export-mps", type=click.Path(dir_okay=False), default=None, help="Write the MILP as MPS."),
    click.option("--export-lp", type=click.Path(dir_okay=False), default=None, help="Write the MILP as LP."),
]


def _common(func):
    for opt in reversed(pin_and_limit_options):
        func = opt(func)
    return func


def run(objective, target_tps, model, system, gpu, fabric, preset, tokens_cached, isl, osl, racks, gpu_budget, tp,
        pp, ep, dp, batch, quant, kv_quant, kv_offload_fraction, max_batch, min_tok_per_user, max_tpot_ms,
        max_ttft_ms, max_kw, top, solver, time_limit, export_mps, export_lp, engine_name, profile_path, allow_span,
        seed_moe, catalogue_dirs, disagg=False):
    """Shared body of ``plan`` and ``min-gpus``: returns the JSON document."""
    sc = resolve.scenario(model=model or DEFAULT_MODEL, system=system or (None if gpu else DEFAULT_SYSTEM), gpu=gpu,
                          fabric=fabric, preset=preset, tokens_cached=tokens_cached, isl=isl, osl=osl,
                          engine_name=engine_name, profile_path=profile_path, allow_span=allow_span,
                          seed_moe=seed_moe, catalogue_dirs=catalogue_dirs,
                          default_tokens_cached=DEFAULT_TOKENS_CACHED)
    if objective == "min_gpus" and racks is None and gpu_budget is None:
        racks = 64
    budget = Budget.of(sc.hardware, racks, gpu_budget, max_kw)
    space = default_space(sc, max_batch).pinned(
        tp=_ints(tp), pp=_ints(pp), ep=_ints(ep), dp=_ints(dp), batch=_ints(batch), quant=_strs(quant),
        kv_quant=_strs(kv_quant), kv_offload_fraction=_floats(kv_offload_fraction))
    limits = Limits.from_cli(min_tok_per_user, max_tpot_ms, max_ttft_ms)
    if disagg:  # prefill and decode pools sized together (planner.fleet.disagg)
        if export_mps or export_lp:
            raise InputError("--export-mps/--export-lp are not available with --disagg")
        return fleet_document(plan_disagg(sc, budget, space, limits, solver, time_limit, target_tps))
    result = optimise(sc, budget, space, limits, objective, target_tps, top, solver, time_limit, export_mps, export_lp)
    return result_document(result)


@click.command("plan")
@click.option("--disagg", is_flag=True, default=False,
              help="Disaggregated serving: size a prefill pool and a decode pool together (isl/osl workloads).")
@mode_option
@model_option
@hardware_options
@workload_options
@_common
@training_options
@target_options
@engine_options
@format_option
@pass_catalogue
def plan(fmt, output, mode, **kw):
    """Throughput-optimal plan for a rack or GPU budget (MILP, verified by the evaluator).

    With no arguments: Qwen3-235B-A22B on one gb200-nvl72 rack, steady-state decode at 8,192 tokens cached.
    With --mode training: Llama 3.1 70B pre-training on one gb200-nvl72 rack (see README, training).
    """
    train = pop_training(kw)
    if mode == "training":
        emit(training_cmd.plan_text("max_tokens_per_s", kw, train, fmt), output)
        return
    training_cmd.refuse_training_options()
    doc = run("max_tps", None, **kw)
    emit(format_fleet(doc, fmt) if "pools" in doc else format_result(doc, fmt), output)


@click.command("min-gpus")
@click.option("--target-tps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Total tokens/s to reach (serving; required there).")
@click.option("--disagg", is_flag=True, default=False,
              help="Disaggregated serving: fewest GPUs of a prefill pool and a decode pool together.")
@mode_option
@model_option
@hardware_options
@workload_options
@_common
@training_options
@target_options
@engine_options
@format_option
@pass_catalogue
def min_gpus(target_tps, fmt, output, mode, **kw):
    """Fewest GPUs (then racks) that reach --target-tps (budget cap: --racks, default 64 racks).

    With --mode training: fewest GPUs whose job reaches --target-tokens-per-s, or trains --train-tokens
    within --deadline-days (budget cap default 1024 racks).
    """
    train = pop_training(kw)
    if mode == "training":
        emit(training_cmd.plan_text("min_gpus", kw, train, fmt), output)
        return
    training_cmd.refuse_training_options()
    if target_tps is None:
        raise InputError("min-gpus needs --target-tps (or --mode training with --target-tokens-per-s)")
    doc = run("min_gpus", target_tps, **kw)
    emit(format_fleet(doc, fmt) if "pools" in doc else format_result(doc, fmt), output)


def register(group: click.Group) -> None:
    """Attach ``plan`` and ``min-gpus`` to ``group``."""
    group.add_command(plan)
    group.add_command(min_gpus)
