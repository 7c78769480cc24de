"""Training layout rules: the one place that says which training layouts a model admits.

Placement (Megatron-LM's default rank order ``tp-cp-ep-dp-pp``): tensor-parallel ranks are
innermost, then context-parallel, then data-parallel replicas; pipeline stages are outermost.
So a TP group spans ``tp`` consecutive GPUs, a CP group ``tp * cp``, a data-parallel group
``tp * cp * dp`` (one stage's GPUs of every replica) and neighbouring stages sit
``tp * cp * dp`` GPUs apart. Experts fold onto a stage's ``tp * cp * dp`` GPUs in that order
(Megatron-Core "MoE parallel folding", arXiv 2504.14960): an EP group is ``ep`` consecutive
GPUs, each expert lives whole on one GPU (expert tensor parallel 1), and an expert's
gradients are reduced over the ``tp * cp * dp / ep`` GPUs that hold a copy of it.

Rules (``TRAINING_RULES``, (name, predicate, message) rows of ``planner.serving.parallel.Rule``:
one row gives the candidate filter its mask and the validator, verifier and report their reason):

* tp follows the inference rule of ``planner.serving.parallel`` (tp divides the attention heads; tp
  and the KV heads divide one another) and stays inside one scale-up domain unless the
  scenario allows spanning (TP collectives run twice per layer and direction).
* pp * vpp <= layers (every virtual stage holds a layer); vpp = 1 without pipelining.
* a stage trim (``stage_trim_layers``) must leave the last stage a layer and place exactly the
  model's layers (``planner.training.memory.stage_layers``).
* cp > 1 needs the sequence to split into ``2 * cp`` equal chunks (Megatron's load-balanced
  causal context parallelism).
* ep divides the routed experts and the ``tp * cp * dp`` GPUs of a stage; dense models ep = 1.
* the global batch divides by ``dp * micro_batch``; with vpp > 1 the micro-batch count also
  divides by pp (Megatron's interleaved schedule requires it).
"""

from __future__ import annotations

import numpy as np

from models.spec import ModelSpec
from planner.serving.parallel import DENSE_EP_RULE, EXPERTS_RULE, TP_RULES, Rule, is_moe, rule_mask, rule_reasons
from planner.training.memory import split_layers
from planner.training.workload import TrainingPlan, TrainingWorkload

DECISIONS = ("tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch")


def num_micro_batches(workload: TrainingWorkload, dp, micro_batch) -> np.ndarray:
    """Micro-batches per replica per step: ``global_batch / (dp * micro_batch)`` (floor)."""
    return workload.global_batch_sequences // (np.asarray(dp) * np.asarray(micro_batch))


def _micro_batches(x):
    """Micro-batches per replica (floor) and whether the global batch splits into them evenly."""
    batch, per = x.workload.global_batch_sequences, x.dp * x.micro_batch
    return batch // per, batch % per == 0


def _interleaving_fits(model: ModelSpec, x):
    """vpp > 1 needs the micro-batches to divide by pp; judged only where the batch splits (``batch_split``)."""
    micro, splits = _micro_batches(x)
    return np.logical_not(splits) | (x.vpp == 1) | (micro % x.pp == 0)


def _trim_fits(model: ModelSpec, x):
    """A trimmed split gives the last stage a layer and places exactly the model's layers (an
    untrimmed split keeps its rule: the last stage takes what is left, possibly only the LM head)."""
    pp, trim = np.asarray(x.pp, dtype=float), x.workload.stage_trim_layers
    first, middle, last = split_layers(model.num_hidden_layers, pp, trim)
    placed = first + np.maximum(pp - 2.0, 0.0) * middle + np.where(pp > 1, last, 0.0)
    return (pp <= 1) | (trim == 0) | ((last >= 1) & (placed == model.num_hidden_layers))


def _no_span(model: ModelSpec, x) -> bool:
    return not x.allow_span


TRAINING_RULES = TP_RULES + (
    Rule("scale_up_domain", lambda m, x: x.tp <= x.domain_gpus,
         lambda m, x: f"tp {x.tp} exceeds the scale-up domain of {x.domain_gpus} GPUs "
                      "(use --allow-span to run tensor parallelism over the slower tier)", _no_span),
    Rule("pipeline_depth", lambda m, x: x.pp * x.vpp <= m.num_hidden_layers,
         lambda m, x: f"pp x vpp = {x.pp * x.vpp} exceeds num_hidden_layers {m.num_hidden_layers}"),
    Rule("interleaving_needs_pipeline", lambda m, x: (x.vpp == 1) | (x.pp > 1),
         lambda m, x: f"vpp {x.vpp} needs pipelining (pp > 1)"),
    Rule("context_chunks", lambda m, x: (x.cp == 1) | (x.workload.sequence_tokens % (2 * x.cp) == 0),
         lambda m, x: f"cp {x.cp}: sequence length {x.workload.sequence_tokens} does not split into "
                      f"2 x cp = {2 * x.cp} equal chunks"),
    Rule("stage_trim", _trim_fits,
         lambda m, x: f"stage trim {x.workload.stage_trim_layers} leaves no valid split of "
                      f"{m.num_hidden_layers} layers over pp {x.pp} (use a smaller --stage-trim)"),
    DENSE_EP_RULE,
    EXPERTS_RULE,
    Rule("expert_split", lambda m, x: (x.tp * x.cp * x.dp) % x.ep == 0,
         lambda m, x: f"ep {x.ep} does not divide tp x cp x dp = {x.tp * x.cp * x.dp}", is_moe),
    Rule("batch_split", lambda m, x: _micro_batches(x)[1],
         lambda m, x: f"global batch {x.workload.global_batch_sequences} does not divide by dp x micro_batch = "
                      f"{x.dp * x.micro_batch}"),
    Rule("interleaving_micro_batches", _interleaving_fits,
         lambda m, x: f"interleaving (vpp {x.vpp}) needs the {_micro_batches(x)[0]} micro-batches to divide by "
                      f"pp {x.pp}"),
)


def layout_mask(model: ModelSpec, workload: TrainingWorkload, tp, pp, vpp, cp, ep, dp, micro_batch,
                domain_gpus: int, allow_span: bool) -> np.ndarray:
    """Vectorised validity of training layouts (True where every rule holds)."""
    decisions = dict(zip(DECISIONS, (tp, pp, vpp, cp, ep, dp, micro_batch)))
    return rule_mask(TRAINING_RULES, model, decisions, workload=workload, domain_gpus=domain_gpus,
                     allow_span=allow_span)


def layout_reasons(model: ModelSpec, workload: TrainingWorkload, plan: TrainingPlan, domain_gpus: int,
                   allow_span: bool) -> list[str]:
    """Human-readable reasons why one training layout breaks the rules (empty when valid)."""
    return rule_reasons(TRAINING_RULES, model, {k: getattr(plan, k) for k in DECISIONS}, workload=workload,
                        domain_gpus=domain_gpus, allow_span=allow_span)


def tier_span_gpus(tp, cp, dp, ep) -> dict[str, np.ndarray]:
    """GPUs each communicating group spans under the ``tp-cp-ep-dp-pp`` order (see module docstring).

    Returns spans for ``tp``, ``cp`` (the CP ring, stride tp), ``dp`` (the data-parallel and
    expert-data-parallel groups: one stage of every replica), ``ep`` (consecutive GPUs) and
    ``pp`` (a pair of neighbouring stages).
    """
    tp, cp, dp, ep = (np.asarray(a, dtype=float) for a in (tp, cp, dp, ep))
    stage = tp * cp * dp
    return {"tp": tp, "cp": tp * cp, "dp": stage, "ep": ep, "pp": 2.0 * stage}
