"""Training layout rules: the one place that says which training layouts a model admits.

Placement (Megatron-LM's default rank order ``tp-cp-ep-dp-pp``): tensor-parallel ranks are
innermost, then context-parallel, then data-parallel replicas; pipeline stages are outermost.
So a TP group spans ``tp`` consecutive GPUs, a CP group ``tp * cp``, a data-parallel group
``tp * cp * dp`` (one stage's GPUs of every replica) and neighbouring stages sit
``tp * cp * dp`` GPUs apart. Experts fold onto a stage's ``tp * cp * dp`` GPUs in that order
(Megatron-Core "MoE parallel folding", arXiv 2504.14960): an EP group is ``ep`` consecutive
GPUs, each expert lives whole on one GPU (expert tensor parallel 1), and an expert's
gradients are reduced over the ``tp * cp * dp / ep`` GPUs that hold a copy of it.

Rules (each applied by the candidate filter and the plan validator alike):

* tp follows the inference rule of ``planner.serving.parallel`` (tp divides the attention heads; tp
  and the KV heads divide one another) and stays inside one scale-up domain unless the
  scenario allows spanning (TP collectives run twice per layer and direction).
* pp * vpp <= layers (every virtual stage holds a layer); vpp = 1 without pipelining.
* cp > 1 needs the sequence to split into ``2 * cp`` equal chunks (Megatron's load-balanced
  causal context parallelism).
* ep divides the routed experts and the ``tp * cp * dp`` GPUs of a stage; dense models ep = 1.
* the global batch divides by ``dp * micro_batch``; with vpp > 1 the micro-batch count also
  divides by pp (Megatron's interleaved schedule requires it).
"""

from __future__ import annotations

import numpy as np

from models.spec import ModelSpec
from planner.serving import parallel
from planner.training.workload import TrainingPlan, TrainingWorkload


def num_micro_batches(workload: TrainingWorkload, dp, micro_batch) -> np.ndarray:
    """Micro-batches per replica per step: ``global_batch / (dp * micro_batch)`` (floor)."""
    return workload.global_batch_sequences // (np.asarray(dp) * np.asarray(micro_batch))


def layout_mask(model: ModelSpec, workload: TrainingWorkload, tp, pp, vpp, cp, ep, dp, micro_batch,
                domain_gpus: int, allow_span: bool) -> np.ndarray:
    """Vectorised validity of training layouts (True where every rule holds)."""
    tp, pp, vpp, cp, ep, dp, mb = (np.asarray(a, dtype=np.int64) for a in (tp, pp, vpp, cp, ep, dp, micro_batch))
    ok = (tp >= 1) & (pp >= 1) & (vpp >= 1) & (cp >= 1) & (ep >= 1) & (dp >= 1) & (mb >= 1)
    safe = lambda a: np.maximum(a, 1)  # noqa: E731 - keeps the modulo below defined on bad rows
    tp, pp, vpp, cp, ep, dp, mb = (safe(a) for a in (tp, pp, vpp, cp, ep, dp, mb))
    # The inference rule for tp (heads, KV heads); the other decisions are neutral there.
    one = np.ones_like(tp)
    ok &= parallel.layout_mask(model, tp, one, one, one, one)
    if not allow_span:
        ok &= tp <= domain_gpus
    ok &= pp * vpp <= model.num_hidden_layers
    ok &= (vpp == 1) | (pp > 1)
    ok &= (cp == 1) | (workload.sequence_tokens % (2 * cp) == 0)
    if model.moe is None:
        ok &= ep == 1
    else:
        ok &= (model.moe.num_experts % ep == 0) & ((tp * cp * dp) % ep == 0)
    ok &= workload.global_batch_sequences % (dp * mb) == 0
    micro = workload.global_batch_sequences // (dp * mb)
    ok &= (vpp == 1) | (micro % pp == 0)
    return ok


def layout_reasons(model: ModelSpec, workload: TrainingWorkload, plan: TrainingPlan, domain_gpus: int,
                   allow_span: bool) -> list[str]:
    """Human-readable reasons why one training layout breaks the rules (empty when valid)."""
    reasons = []
    for name in ("tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch"):
        if getattr(plan, name) < 1:
            reasons.append(f"{name} must be >= 1 (got {getattr(plan, name)})")
    if reasons:
        return reasons
    reasons += [r for r in parallel.layout_reasons(model, plan.tp, 1, 1, 1, 1)]
    if not allow_span and plan.tp > domain_gpus:
        reasons.append(f"tp {plan.tp} exceeds the scale-up domain of {domain_gpus} GPUs "
                       "(use --allow-span to run tensor parallelism over the slower tier)")
    layers = model.num_hidden_layers
    if plan.pp * plan.vpp > layers:
        reasons.append(f"pp x vpp = {plan.pp * plan.vpp} exceeds num_hidden_layers {layers}")
    if plan.vpp > 1 and plan.pp == 1:
        reasons.append(f"vpp {plan.vpp} needs pipelining (pp > 1)")
    if plan.cp > 1 and workload.sequence_tokens % (2 * plan.cp):
        reasons.append(f"cp {plan.cp}: sequence length {workload.sequence_tokens} does not split into "
                       f"2 x cp = {2 * plan.cp} equal chunks")
    if model.moe is None:
        if plan.ep != 1:
            reasons.append(f"ep {plan.ep} on a dense model: ep must be 1")
    else:
        if model.moe.num_experts % plan.ep:
            reasons.append(f"ep {plan.ep} does not divide the {model.moe.num_experts} routed experts")
        stage = plan.tp * plan.cp * plan.dp
        if stage % plan.ep:
            reasons.append(f"ep {plan.ep} does not divide tp x cp x dp = {stage}")
    batch = workload.global_batch_sequences
    if batch % (plan.dp * plan.micro_batch):
        reasons.append(f"global batch {batch} does not divide by dp x micro_batch = {plan.dp * plan.micro_batch}")
    elif plan.vpp > 1 and (batch // (plan.dp * plan.micro_batch)) % plan.pp:
        micro = batch // (plan.dp * plan.micro_batch)
        reasons.append(f"interleaving (vpp {plan.vpp}) needs the {micro} micro-batches to divide by pp {plan.pp}")
    return reasons


def tier_span_gpus(tp, cp, dp, ep) -> dict[str, np.ndarray]:
    """GPUs each communicating group spans under the ``tp-cp-ep-dp-pp`` order (see module docstring).

    Returns spans for ``tp``, ``cp`` (the CP ring, stride tp), ``dp`` (the data-parallel and
    expert-data-parallel groups: one stage of every replica), ``ep`` (consecutive GPUs) and
    ``pp`` (a pair of neighbouring stages).
    """
    tp, cp, dp, ep = (np.asarray(a, dtype=float) for a in (tp, cp, dp, ep))
    stage = tp * cp * dp
    return {"tp": tp, "cp": tp * cp, "dp": stage, "ep": ep, "pp": 2.0 * stage}
