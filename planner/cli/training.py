"""Training-mode bodies of ``plan``, ``min-gpus`` and ``evaluate`` (``--mode training``).

Each parses its options, calls one library function (``optimise_training`` or
``evaluate_training_plan``) and returns what the command formats. Serving-only options given
in training mode, and training options given in serving mode, are refused with one line.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from planner.budget import Budget
from planner.cli.training_options import TRAINING_PARAMS
from planner.errors import InputError
from planner.report.training import format_training_evaluation, format_training_result
from planner.training.evaluate import evaluate_training_plan
from planner.search.training import optimise_training, target_from_deadline
from planner.training.resolve import DEFAULT_MIN_GPUS_RACKS, training_scenario, training_workload
from planner.training.space import default_training_space
from planner.report.training_summary import result_document, training_row
from planner.training.workload import TrainingPlan

SERVING_ONLY = ("tokens_cached", "isl", "osl", "batch", "quant", "kv_quant", "kv_offload_fraction", "max_batch",
                "min_tok_per_user", "max_tpot_ms", "max_ttft_ms", "engine_name", "profile_path", "seed_moe",
                "disagg", "instances", "target_tps")


def _given(names) -> list[str]:
    """Options among ``names`` the user typed (or set through the environment)."""
    ctx = click.get_current_context()
    typed = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return ["--" + n.replace("_", "-") for n in names if ctx.get_parameter_source(n) in typed]


def refuse_serving_options() -> None:
    """Raise when a serving-only option was given with ``--mode training``."""
    given = _given(SERVING_ONLY)
    if given:
        raise InputError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to serving, not --mode training "
                         "(training takes --global-batch, --seq-len, --micro-batch, --precision, ...)")


def refuse_training_options() -> None:
    """Raise when a training option was given without ``--mode training``."""
    given = _given(TRAINING_PARAMS)
    if given:
        raise InputError(f"{', '.join(given)} need{'' if len(given) > 1 else 's'} --mode training")


def _split(text, cast, name: str) -> tuple | None:
    if text is None:
        return None
    try:
        values = tuple(cast(v.strip()) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise InputError(f"--{name.replace('_', '-')}: cannot read '{text}'") from None
    if not values:
        raise InputError(f"--{name.replace('_', '-')}: give at least one value")
    return values


def _one(text, cast, name: str, default):
    values = _split(text, cast, name)
    if values is None:
        return default
    if len(values) != 1:
        raise InputError(f"--{name.replace('_', '-')}: evaluate takes one value (got {text})")
    return values[0]


def _workload(train: dict):
    return training_workload(train.get("global_batch"), train.get("seq_len"), train.get("optimiser"),
                             train.get("train_tokens"), train.get("dp_overlap"), train.get("tp_overlap"))


def plan_document(objective: str, kw: dict, train: dict) -> dict:
    """``plan`` / ``min-gpus`` in training mode: the planner's JSON document."""
    refuse_serving_options()
    sc = training_scenario(model=kw["model"], system=kw["system"], gpu=kw["gpu"], workload=_workload(train),
                           fabric=kw["fabric"], preset=kw["preset"], allow_span=kw["allow_span"],
                           catalogue_dirs=kw["catalogue_dirs"])
    racks, gpus = kw["racks"], kw["gpu_budget"]
    if objective == "min_gpus" and racks is None and gpus is None:
        racks = DEFAULT_MIN_GPUS_RACKS
    budget = Budget.of(sc.hardware, racks, gpus, kw["max_kw"])
    space = default_training_space(sc, budget.gpus).pinned(
        tp=_split(kw["tp"], int, "tp"), pp=_split(kw["pp"], int, "pp"), ep=_split(kw["ep"], int, "ep"),
        dp=_split(kw["dp"], int, "dp"), cp=_split(train["cp"], int, "cp"), vpp=_split(train["vpp"], int, "vpp"),
        micro_batch=_split(train["micro_batch"], int, "micro_batch"), zero=_split(train["zero"], int, "zero"),
        recompute=_split(train["recompute"], str, "recompute"), precision=_split(train["precision"], str, "precision"))
    target = train["target_tokens_per_s"]
    deadline = target_from_deadline(train["train_tokens"], train["deadline_days"])
    if target is not None and deadline is not None:
        raise InputError("give --target-tokens-per-s or --train-tokens with --deadline-days, not both")
    target = deadline if target is None else target
    result = optimise_training(sc, budget, space, objective, target, kw["top"], kw["solver"], kw["time_limit"],
                               kw["export_mps"], kw["export_lp"])
    return result_document(result)


def plan_text(objective: str, kw: dict, train: dict, fmt: str) -> str:
    """The formatted report of `plan_document`."""
    return format_training_result(plan_document(objective, kw, train), fmt)


def evaluate_text(*, model, system, gpu, fabric, preset, allow_span, catalogue_dirs, tp, pp, ep, dp, train: dict,
                  fmt: str) -> str:
    """``evaluate --mode training``: score one layout, formatted."""
    refuse_serving_options()
    sc = training_scenario(model=model, system=system, gpu=gpu, workload=_workload(train), fabric=fabric,
                           preset=preset, allow_span=allow_span, catalogue_dirs=catalogue_dirs)
    plan = TrainingPlan(tp=tp, pp=pp, ep=ep, dp=dp, cp=_one(train["cp"], int, "cp", 1),
                        vpp=_one(train["vpp"], int, "vpp", 1),
                        micro_batch=_one(train["micro_batch"], int, "micro_batch", 1),
                        recompute=_one(train["recompute"], str, "recompute", "selective").lower(),
                        zero=_one(train["zero"], int, "zero", 1),
                        precision=_one(train["precision"], str, "precision", "bf16").lower())
    result = {"plan": plan.as_dict(), **training_row(sc, evaluate_training_plan(sc, plan))}
    title = (f"training {sc.model.name} on {sc.hardware.system.name}, {sc.workload.label()}, "
             f"layout {plan.layout()} (TPxCPxPPxEPxDP)")
    return format_training_evaluation(result, fmt, title)
