"""One training question answered end to end: names in, the JSON document of the answer out.

``plan_document`` is ``rackplan train plan`` / ``train min-gpus`` (and ``planner.train_plan`` /
``planner.train_min_gpus``); ``evaluation`` is ``rackplan train evaluate``. The training defaults
live in ``planner.training.resolve`` and ``TrainingPlan``; ``None`` below means "the default".
"""

from __future__ import annotations

from dataclasses import fields

from planner.budget import Budget
from planner.errors import InputError
from planner.report.training_summary import result_document, training_row
from planner.search.training import optimise_training, target_from_deadline
from planner.studies.serving import DEFAULT_SOLVER, DEFAULT_TOP, Document
from planner.training.evaluate import evaluate_training_plan
from planner.training.resolve import DEFAULT_MIN_GPUS_RACKS, training_scenario, training_workload
from planner.training.space import default_training_space
from planner.training.workload import TrainingPlan

LAYOUT_DEFAULTS = {f.name: f.default for f in fields(TrainingPlan)}
"""What ``evaluate`` assumes for a decision it is not given (``TrainingPlan``'s own defaults)."""


def scenario(*, model=None, system=None, gpu=None, fabric=None, preset=None, allow_span=False, catalogue_dirs=(),
             global_batch=None, seq_len=None, optimiser=None, train_tokens=None, dp_overlap=None, tp_overlap=None,
             ep_overlap=None, jitter_cv=None, stage_trim=None, ep_node_limit=None, fp8_act_cache=None,
             offload_layers=None, mtp_modules=None):
    """The training scenario of these names and workload figures (``None``: the default)."""
    workload = training_workload(global_batch, seq_len, optimiser, train_tokens, dp_overlap, tp_overlap,
                                 ep_overlap_fraction=ep_overlap, jitter_cv=jitter_cv, stage_trim_layers=stage_trim,
                                 ep_node_limit=ep_node_limit, fp8_activation_cache=fp8_act_cache,
                                 offload_layers=offload_layers, mtp_modules=mtp_modules)
    return training_scenario(model=model, system=system, gpu=gpu, workload=workload, fabric=fabric, preset=preset,
                             allow_span=bool(allow_span), catalogue_dirs=tuple(catalogue_dirs or ()))


def plan_document(objective: str = "max_tokens_per_s", *, racks=None, gpus=None, max_kw=None, tp=None, pp=None,
                  ep=None, dp=None, cp=None, vpp=None, micro_batch=None, recompute=None, zero=None, precision=None,
                  target_tokens_per_s=None, deadline_days=None, top=None, solver=None, time_limit_s=None,
                  export_mps=None, export_lp=None, **names) -> dict:
    """The fastest layout (``max_tokens_per_s``) or the fewest GPUs reaching a tokens/s target
    (``min_gpus``), as the JSON document of ``rackplan train plan`` / ``train min-gpus``."""
    sc = scenario(**names)
    if objective == "min_gpus" and racks is None and gpus is None:
        racks = DEFAULT_MIN_GPUS_RACKS
    budget = Budget.of(sc.hardware, racks, gpus, max_kw)
    space = default_training_space(sc, budget.gpus).pinned(
        tp=tp, pp=pp, ep=ep, dp=dp, cp=cp, vpp=vpp, micro_batch=micro_batch, zero=zero, recompute=recompute,
        precision=precision)
    deadline = target_from_deadline(names.get("train_tokens"), deadline_days)
    if target_tokens_per_s is not None and deadline is not None:
        raise InputError("give --target-tokens-per-s or --train-tokens with --deadline-days, not both")
    target = deadline if target_tokens_per_s is None else target_tokens_per_s
    result = optimise_training(sc, budget, space, objective, target, top if top is not None else DEFAULT_TOP,
                               solver or DEFAULT_SOLVER, time_limit_s, export_mps, export_lp)
    return result_document(result)


def evaluation(*, tp=None, pp=None, ep=None, dp=None, cp=None, vpp=None, micro_batch=None, recompute=None,
               zero=None, precision=None, **names) -> Document:
    """One training layout scored by the evaluator: ``plan`` plus the evaluator's keys."""
    if names.get("model") is None:
        raise InputError("evaluate needs --model (a catalogue name, a Hugging Face id or a config.json path)")
    if names.get("system") is None and names.get("gpu") is None:
        raise InputError("evaluate needs --system or --gpu (see `rackplan systems` / `rackplan gpus`)")
    sc = scenario(**names)
    given = {"tp": tp, "pp": pp, "ep": ep, "dp": dp, "cp": cp, "vpp": vpp, "micro_batch": micro_batch,
             "recompute": recompute, "zero": zero, "precision": precision}
    layout = {k: LAYOUT_DEFAULTS[k] if v is None else v for k, v in given.items()}
    plan = TrainingPlan(**{**layout, "recompute": layout["recompute"].lower(),
                           "precision": layout["precision"].lower()})
    doc = {"plan": plan.as_dict(), **training_row(sc, evaluate_training_plan(sc, plan))}
    title = (f"training {sc.model.name} on {sc.hardware.system.name}, {sc.workload.label()}, "
             f"layout {plan.layout()} (TPxCPxPPxEPxDP)")
    return Document(doc, title)
