"""``rackplan evaluate``: score one given plan with the roofline evaluator."""

from __future__ import annotations

import click

from planner import quant
from planner.serving import resolve
from planner.cli import training as training_cmd
from planner.cli.options import (emit, engine_options, format_option, hardware_options, model_option,
                                      pass_catalogue, workload_options)
from planner.cli.training_options import mode_option, pop_training, training_options
from planner.errors import InputError
from planner.serving.evaluate import evaluate_plan, row
from planner.serving.plan import Plan
from planner.report.tables import format_evaluation

plan_options = [
    click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="Tensor-parallel degree."),
    click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True, help="Pipeline stages."),
    click.option("--ep", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Expert-parallel degree (divides tp x dp)."),
    click.option("--dp", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Attention data-parallel groups inside the instance."),
    click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Concurrent sequences per instance."),
    click.option("--quant", default="bf16", show_default=True, help=f"Weight quantisation: {', '.join(quant.MODE_NAMES)}."),
    click.option("--kv-quant", default="bf16", show_default=True, help="KV-cache quantisation."),
    click.option("--kv-offload-fraction", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
                 help="Share of the KV cache kept in host memory and streamed over the host link each step."),
    click.option("--instances", type=click.IntRange(min=1), default=1, show_default=True, help="Model instances."),
]


def _plan_options(func):
    for opt in reversed(plan_options):
        func = opt(func)
    return func


@click.command("evaluate")
@mode_option
@model_option
@hardware_options
@workload_options
@_plan_options
@training_options
@engine_options
@format_option
@pass_catalogue
def evaluate(model, system, gpu, fabric, preset, tokens_cached, isl, osl, tp, pp, ep, dp, batch, quant, kv_quant,
             kv_offload_fraction, instances, engine_name, profile_path, allow_span, seed_moe, fmt, output,
             catalogue_dirs, mode="inference", **train):
    """Score one plan: step time split, limit, bounds, fabric load, memory per GPU.

    Example: rackplan evaluate --model qwen3-235b-a22b --system gb200-nvl72 --tp 4 --ep 4 --batch 64
    --quant fp8 --kv-quant fp8 --tokens-cached 8192
    """
    if model is None:
        raise InputError("evaluate needs --model (a catalogue name, a Hugging Face id or a config.json path)")
    if system is None and gpu is None:
        raise InputError("evaluate needs --system or --gpu (see `rackplan systems` / `rackplan gpus`)")
    train = pop_training(train)
    if mode == "training":
        emit(training_cmd.evaluate_text(model=model, system=system, gpu=gpu, fabric=fabric, preset=preset,
                                        allow_span=allow_span, catalogue_dirs=catalogue_dirs, tp=tp, pp=pp, ep=ep,
                                        dp=dp, train=train, fmt=fmt), output)
        return
    training_cmd.refuse_training_options()
    sc = resolve.scenario(model=model, system=system, gpu=gpu, fabric=fabric, preset=preset,
                          tokens_cached=tokens_cached, isl=isl, osl=osl, engine_name=engine_name,
                          profile_path=profile_path, allow_span=allow_span, seed_moe=seed_moe,
                          catalogue_dirs=catalogue_dirs)
    plan = Plan(tp=tp, pp=pp, ep=ep, dp=dp, batch=batch, quant=resolve_quant(quant), kv_quant=resolve_quant(kv_quant),
                kv_offload_fraction=kv_offload_fraction, instances=instances)
    result = {"plan": plan.as_dict(), **row(sc, evaluate_plan(sc, plan))}
    title = f"{sc.model.name} on {sc.hardware.system.name}, {sc.workload.label()}, plan {plan.layout()} (TPxPPxEPxDP)"
    emit(format_evaluation(result, fmt, title), output)


def resolve_quant(name: str) -> str:
    """Validated quantisation name."""
    from planner.quant import mode
    return mode(name).name


def register(group: click.Group) -> None:
    """Attach ``evaluate`` to ``group``."""
    group.add_command(evaluate)
