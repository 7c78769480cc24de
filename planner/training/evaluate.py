"""The training evaluator: step time, throughput, MFU, memory and fabric load of many layouts at once.

One optimiser step of a job with ``m`` micro-batches per replica (``planner.training.workload``):

* Per micro-batch on the slowest of the first pipeline stage, the middle stages and the last
  (``planner.training.memory.stage_layers``, with the workload's first/last-stage trim; the
  first runs the embedding, the last the LM head): forward linear layers on the measured GEMM
  curve, routed experts as grouped GEMMs with their routing passes (``planner.training.gemm_time``),
  causal attention at the fused-attention rate (``planner.training.rates``); the backward pass
  costs twice the forward; recomputation adds the attention core and MLA's up-projections
  (selective) or a whole forward (full). Non-matmul kernels (norms,
  SwiGLU, residual adds, rotary) stream the activations the forward writes ``ELEMENTWISE_PASSES``
  times from HBM (selective recomputation writes its rebuilt ones once more). Exposed
  communication is added term by term: TP collectives beyond ``tp_overlap_fraction`` of them
  hidden behind the linear layers' GEMMs, activation offload beyond the compute beside it, the CP ring
  beyond the attention compute that hides it, EP all-to-alls beyond the other micro-batch's
  compute (``ep_overlap_fraction``, DualPipe-style), PP transfers, and ZeRO-2/3 per-micro-batch
  collectives beyond ``dp_overlap_fraction`` of the pass beside them. Hidden time still costs
  ``OVERLAP_SM_SHARE`` of itself: the SMs the collective's kernels hold.
* Pipeline: ``t_micro x (m + (pp - 1) / vpp)``; the bubble fraction is
  ``(pp - 1) / (m vpp + pp - 1)`` (Narayanan et al. 2021, arXiv 2104.04473, section 2.2;
  ``(pp - 1) / (m + pp - 1)`` without interleaving).
* Then the once-per-step data-parallel collectives beyond what the last backward (gradient
  reduction) and the first forward (weight all-gather) hide, and the optimiser update, which
  streams ``update_bytes_per_param`` per locally updated parameter through HBM.
* Stragglers: the step waits for the slowest of the job's ``N`` GPUs, ``x (1 + cv sqrt(2 ln N))``
  (``jitter_cv``; ``planner.training.workload.DEFAULT_JITTER_CV`` says where it comes from).

Reported figures: tokens/s = global batch x sequence / step time; tokens/s per GPU over all GPUs of
the job; MFU = model FLOPs (``6 N + 3 x attention``, no recomputation) / (step time x GPUs x the
dense BF16 peak) whatever the precision (Llama 3's convention), ``mfu_fp8`` against the FP8 peak,
``hfu`` hardware FLOPs (with recomputation) against the precision's peak;
``instance_steps_per_s`` = micro-batches per second of one data-parallel replica (the seed's "Inst
Steps/s"; tables: "mb/s/replica") and ``total_steps_per_s`` = all ``dp`` replicas together (the
seed's "Tot Steps/s"; tables: "mb/s"), not optimiser steps (``steps_per_s``);
the limit is the largest share of the step (compute, hbm, comm or pipeline bubble).
"""

from __future__ import annotations

import numpy as np

from hardware.specs import Hardware
from models.spec import ModelSpec
from planner.engine.activations import LOGIT_BYTES
from planner.serving.evaluate import CommonScores
from planner.training.comm import training_comm
from planner.training.gemm_time import dense_forward_s, expert_forward_s, mla_up_forward_s
from planner.training.memory import (
    TRAINING_HBM_USABLE_FRACTION,
    TrainingMemory,
    layer_params,
    mtp_stage_layers,
    offloaded_layers,
    stage_layers,
    stored_bytes_per_layer,
    training_memory,
    vocab_params,
)
from planner.training.parallel import layout_mask, num_micro_batches
from planner.training.rates import training_rates
from planner.training.shape import TrainingShape, training_shape
from planner.training.workload import PRECISIONS, TrainingPlan, TrainingPlanArrays, TrainingWorkload
from specbase.record import record

LIMITS = ("compute", "hbm", "comm", "bubble")
# Non-matmul kernels write each stored activation once in the forward pass, then read it and
# write its gradient once in the backward pass: three HBM passes over the stored bytes.
ELEMENTWISE_PASSES = 3.0
# The cross-entropy over the vocabulary (Megatron-Core's vocabulary-parallel loss, fp32 logits) writes the
# logits' softmax in the forward pass, reads it back in the backward and writes the logits' gradient: three
# passes of ``LOGIT_BYTES`` per logit, on the stage that runs the LM head.
VOCAB_LOSS_PASSES = 3.0
FP8_INDEX = PRECISIONS.index("fp8")
# Communication overlapped with compute occupies SMs: DeepSeek-V3 dedicates 20 of the H800's 132
# SMs to its all-to-all kernels while the rest compute (arXiv 2412.19437 section 3.2.2): 20 / 132.
OVERLAP_SM_SHARE = 20.0 / 132.0
STAGES = ("first", "middle", "last")


@record
class TrainingScenario:
    """Everything fixed about a training question except the layout.

    Attributes:
        hardware: resolved system (GPU, topology, fabrics per tier).
        model: the model trained.
        workload: batch, sequence, optimiser, overlap parameters.
        allow_span: let tensor parallelism cross the scale-up domain onto the slower tier.
    """

    hardware: Hardware
    model: ModelSpec
    workload: TrainingWorkload
    allow_span: bool = False


@record
class TrainingScores(CommonScores):
    """Evaluator output, one entry per row (SI units; tier arrays have shape (3, rows)), beyond
    :class:`~planner.serving.evaluate.CommonScores`."""

    plans: TrainingPlanArrays
    micro_batches: np.ndarray
    micro_batch_s: np.ndarray
    step_time_s: np.ndarray
    compute_s: np.ndarray
    hbm_s: np.ndarray
    comm_s: np.ndarray
    bubble_s: np.ndarray
    jitter_s: np.ndarray
    tokens_per_s: np.ndarray
    tok_per_gpu: np.ndarray
    instance_steps_per_s: np.ndarray
    total_steps_per_s: np.ndarray
    mfu: np.ndarray
    mfu_fp8: np.ndarray | None
    hfu: np.ndarray
    model_flop_per_s_per_gpu: np.ndarray
    time_to_train_s: np.ndarray | None
    layout_ok: np.ndarray
    precision_ok: np.ndarray
    gpus: np.ndarray
    power_w: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        """Rows meeting every per-job rule and limit: layout, precision, HBM."""
        return self.layout_ok & self.precision_ok & (self.hbm_excess_bytes <= 0)


def shape_of(scenario: TrainingScenario) -> TrainingShape:
    """Model scalars at the scenario's sequence length."""
    return training_shape(scenario.model, scenario.workload.sequence_tokens)


def _exposed(time_s: np.ndarray, window_s: np.ndarray, overlap) -> np.ndarray:
    """Collective time left on the critical path when ``overlap`` of it may hide behind ``window_s``.

    A hidden collective is not free: its kernels hold ``OVERLAP_SM_SHARE`` of the SMs, so the
    compute beside it slows by that share for as long as the two overlap.
    """
    return time_s - overlap * np.minimum(time_s, window_s) * (1.0 - OVERLAP_SM_SHARE)


@record
class _Stage:
    """One pipeline stage's per-micro-batch times and once-per-step tail, per GPU."""

    compute_s: np.ndarray
    hardware_flop: np.ndarray
    elementwise_s: np.ndarray
    comm_s: np.ndarray
    unoverlapped_s: np.ndarray
    tail_s: np.ndarray
    tail_comm_s: np.ndarray
    optimiser_s: np.ndarray
    bytes_micro: np.ndarray
    bytes_step: np.ndarray

    @property
    def micro_s(self) -> np.ndarray:
        """Time of one micro-batch (forward and backward) on this stage."""
        return self.compute_s + self.elementwise_s + self.comm_s


def _stage(scenario: TrainingScenario, shape: TrainingShape, r, plans: TrainingPlanArrays, cols: dict,
           layers: np.ndarray, head: np.ndarray, kind: str, m: np.ndarray) -> _Stage:
    """Score one pipeline stage (``layers`` per row; ``head``: LM-head passes it runs, 0 or 1 plus one per
    multi-token-prediction module; ``kind``: one of
    ``STAGES``; ``cols``: float columns; ``m``: micro-batches per replica)."""
    hw, w = scenario.hardware, scenario.workload
    opt = w.optimiser_spec
    tp, pp, vpp, cp, ep, dp, mb = (cols[k] for k in ("tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch"))
    rc, z, prec = plans.recompute, plans.zero, plans.precision
    moe_layers = layers * shape.moe_layer_fraction
    tokens_gpu = mb * shape.sequence_tokens / (tp * cp)
    dense_flop = 2.0 * tokens_gpu * (shape.attention_params * layers + shape.dense_ffn_params * (layers - moe_layers)
                                     + shape.shared_params * moe_layers + head * shape.output_params)
    expert_flop = 2.0 * tokens_gpu * shape.top_k * shape.expert_params * moe_layers
    attention_flop = shape.attention_flop_per_sequence / shape.num_layers * layers * mb / (tp * cp)
    attention_s = attention_flop / r.attention_flop_per_s
    # Linear layers on the measured GEMM curve (planner.training.gemm_time); the backward is twice the forward.
    mode, rows = r.gemm_mode[prec], tokens_gpu * tp
    experts_s = expert_forward_s(shape, r.gemm, mode, tokens_gpu, ep, moe_layers, r.permute_s_per_byte[prec])
    forward_s = dense_forward_s(shape, r.gemm, mode, rows, tp, layers, moe_layers, head) + experts_s + attention_s
    # Selective recomputation reruns the attention core and, for MLA, the up-projection GEMMs.
    up_flop = 2.0 * tokens_gpu * shape.mla_up_params * layers
    up_s = mla_up_forward_s(shape, r.gemm, mode, rows, tp, layers)
    recompute_s = np.select([rc == 1, rc == 2], [attention_s + up_s, forward_s], 0.0)
    hardware_flop = 3.0 * (dense_flop + expert_flop + attention_flop) + np.select(
        [rc == 1, rc == 2], [attention_flop + up_flop, dense_flop + expert_flop + attention_flop], 0.0)
    # Non-matmul kernels stream the stored activations (a non-fused attention's score matrix
    # among them); a full recomputation writes them once more. FP8 casts are the GEMM curve's.
    cache = w.fp8_activation_cache
    streamed = stored_bytes_per_layer(shape, tp, cp, mb, np.where(rc == 2, 1, rc), prec == FP8_INDEX, True, cache)
    # Selective recomputation writes the norm and MLP-activation outputs once more in the backward pass.
    rebuilt = np.where(rc == 1, streamed - stored_bytes_per_layer(shape, tp, cp, mb, rc, prec == FP8_INDEX,
                                                                  fp8_cache=cache), 0.0)
    # The LM head's cross-entropy streams its micro-batch's fp32 logits (vocabulary-parallel over tp, one row
    # per token of the CP shard) ``VOCAB_LOSS_PASSES`` times.
    loss = head * VOCAB_LOSS_PASSES * LOGIT_BYTES * shape.vocab_size * tokens_gpu
    elementwise_s = (((ELEMENTWISE_PASSES + (rc == 2)) * streamed + rebuilt) * layers + loss) / r.hbm_bytes_per_s

    dense_p, expert_p = layer_params(shape, layers, tp, ep)
    if kind != "middle":
        dense_p = dense_p + vocab_params(shape, pp, tp, last=kind == "last")
    c = training_comm(shape, opt, r, hw.gpus_per_server, hw.gpus_per_rack, tp, pp, vpp, cp, ep, dp, mb, rc, z,
                      layers, dense_p, expert_p, prec == FP8_INDEX, w.ep_node_limit)
    fwd_window, bwd_window = forward_s, 2.0 * forward_s + recompute_s
    # Offloaded activations go to host memory in the forward pass and come back for the backward, beside
    # the compute of the other layers (Megatron-Core activation offloading): hidden up to that compute.
    host_s = 2.0 * stored_bytes_per_layer(shape, tp, cp, mb, rc, prec == FP8_INDEX, fp8_cache=w.fp8_activation_cache) \
        * offloaded_layers(layers, w.offload_layers) / r.host_bytes_per_s
    overlap = w.dp_overlap_fraction
    dp_micro = _exposed(c.dp_micro_fwd_s, fwd_window, overlap) + _exposed(c.dp_micro_bwd_s, bwd_window, overlap)
    # Expert all-to-alls hide behind the other micro-batch's compute (none with one micro-batch).
    ep_exposed = _exposed(c.ep_s, 3.0 * forward_s + recompute_s, np.where(m > 1, w.ep_overlap_fraction, 0.0))
    # TP collectives hide (userbuffers-style, ``tp_overlap_fraction``) behind the linear layers' GEMMs beside them.
    tp_exposed = _exposed(c.tp_s, 3.0 * (forward_s - attention_s), w.tp_overlap_fraction)
    comm_s = (tp_exposed + _exposed(c.cp_s, 3.0 * attention_s, 1.0)
              + ep_exposed + c.pp_s + dp_micro + _exposed(host_s, 3.0 * forward_s + recompute_s, 1.0))
    tail_comm = _exposed(c.dp_step_fwd_s, fwd_window, overlap) + _exposed(c.dp_step_bwd_s, bwd_window, overlap)
    updated = np.where(z >= 1, dense_p / (dp * cp) + expert_p / (tp * cp * dp / ep), dense_p + expert_p)
    optimiser_s = opt.update_bytes_per_param * updated / r.hbm_bytes_per_s
    unoverlapped = c.tp_s + c.cp_s + c.ep_s + c.pp_s + c.dp_micro_fwd_s + c.dp_micro_bwd_s
    return _Stage(compute_s=3.0 * forward_s + recompute_s, hardware_flop=hardware_flop, elementwise_s=elementwise_s,
                  comm_s=comm_s, unoverlapped_s=unoverlapped, tail_s=tail_comm + optimiser_s, tail_comm_s=tail_comm,
                  optimiser_s=optimiser_s, bytes_micro=c.micro_bytes_by_tier, bytes_step=c.step_bytes_by_tier)


def memory_of(scenario: TrainingScenario, plans: TrainingPlanArrays,
              shape: TrainingShape | None = None) -> TrainingMemory:
    """Memory per GPU of every row (the cheap part of `evaluate_training`, used to filter first)."""
    w = scenario.workload
    shape = shape or shape_of(scenario)
    m = np.maximum(num_micro_batches(w, plans.dp, plans.micro_batch).astype(float), 1.0)
    return training_memory(shape, w.optimiser_spec, plans.tp, plans.pp, plans.vpp, plans.cp, plans.ep, plans.dp,
                           plans.micro_batch, plans.recompute, plans.zero, m, plans.precision == FP8_INDEX,
                           w.stage_trim_layers, w.fp8_activation_cache, w.offload_layers, w.mtp_modules)


def evaluate_training(scenario: TrainingScenario, plans: TrainingPlanArrays,
                      shape: TrainingShape | None = None) -> TrainingScores:
    """Score every row of ``plans`` under ``scenario`` (see module docstring)."""
    hw, w = scenario.hardware, scenario.workload
    shape = shape or shape_of(scenario)
    r = training_rates(hw)
    cols = {k: getattr(plans, k).astype(float) for k in ("tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch")}
    tp, pp, vpp, cp, dp = (cols[k] for k in ("tp", "pp", "vpp", "cp", "dp"))
    prec = plans.precision
    m = np.maximum(num_micro_batches(w, plans.dp, plans.micro_batch).astype(float), 1.0)
    gpus = tp * pp * cp * dp

    # The stage that runs the LM head also runs the multi-token-prediction modules: one more layer and one
    # more LM-head pass each (DeepSeek-V3, arXiv 2412.19437 section 2.2; `mtp_stage_layers`).
    layers = mtp_stage_layers(stage_layers(shape, pp, w.stage_trim_layers), pp, w.mtp_modules)
    heads = tuple((1.0 + w.mtp_modules) * h for h in (pp == 1, np.zeros_like(pp), np.ones_like(pp)))
    stages = tuple(_stage(scenario, shape, r, plans, cols, n, h, k, m) for n, h, k in zip(layers, heads, STAGES))
    first, middle, last = stages
    # The slowest stage paces the pipeline (middle stages exist from pp 3); the tails end the step.
    present = (np.ones_like(pp, bool), pp > 2, np.ones_like(pp, bool))
    slowest = np.vstack([np.where(on, st.micro_s, -1.0) for st, on in zip(stages, present)]).argmax(axis=0)
    pick = lambda name: np.choose(slowest, [getattr(st, name) for st in stages])  # noqa: E731
    micro_s = pick("micro_s")
    bubble_s = micro_s * (pp - 1.0) / vpp
    tail_s = np.maximum(first.tail_s, last.tail_s)
    ideal = m * micro_s + bubble_s + tail_s
    # Every step waits for the slowest GPU (``DEFAULT_JITTER_CV`` in planner.training.workload).
    jitter_s = ideal * w.jitter_cv * np.sqrt(2.0 * np.log(np.maximum(gpus, 1.0)))
    step = ideal + jitter_s

    tokens_step = float(w.tokens_per_step)
    tokens_per_s = tokens_step / step
    model_flop_step = tokens_step * shape.model_flop_per_token
    per_gpu_tokens = tokens_step / gpus
    tail_comm = np.where(last.tail_s >= first.tail_s, last.tail_comm_s, first.tail_comm_s)
    optimiser_s = tail_s - tail_comm
    hbm_s = m * pick("elementwise_s") + optimiser_s
    terms = [m * pick("compute_s"), hbm_s, m * pick("comm_s") + tail_comm, bubble_s]
    unoverlapped = m * pick("unoverlapped_s") + tail_comm
    bytes_step = np.maximum(first.bytes_micro, last.bytes_micro) * m + np.maximum(first.bytes_step, last.bytes_step)
    with np.errstate(divide="ignore"):
        bound_comm = np.where(unoverlapped > 0, per_gpu_tokens / np.where(unoverlapped > 0, unoverlapped, 1.0), np.inf)
    mem = memory_of(scenario, plans, shape)
    hardware_flop_step = m * (first.hardware_flop + np.maximum(pp - 2.0, 0.0) * middle.hardware_flop
                              + np.where(pp > 1, last.hardware_flop, 0.0)) / pp
    return TrainingScores(
        plans=plans, micro_batches=m, micro_batch_s=micro_s, step_time_s=step,
        compute_s=terms[0], hbm_s=hbm_s, comm_s=terms[2], bubble_s=bubble_s, jitter_s=jitter_s,
        tokens_per_s=tokens_per_s, tok_per_gpu=tokens_per_s / gpus,
        instance_steps_per_s=m / step, total_steps_per_s=dp * m / step,
        mfu=model_flop_step / (step * gpus * r.bf16_peak_flop_per_s),
        mfu_fp8=model_flop_step / (step * gpus * r.fp8_peak_flop_per_s) if r.fp8_peak_flop_per_s else None,
        hfu=hardware_flop_step / (step * r.peak_flop_per_s[prec]),
        model_flop_per_s_per_gpu=model_flop_step / (step * gpus),
        time_to_train_s=None if w.tokens_to_train is None else w.tokens_to_train / tokens_per_s,
        limit=np.vstack(terms).argmax(axis=0),
        bound_compute=per_gpu_tokens / terms[0], bound_hbm=per_gpu_tokens / hbm_s, bound_comm=bound_comm,
        fabric_bytes_per_s=bytes_step * gpus / step,
        fabric_utilisation=bytes_step / step / r.fabric_peak_bytes_per_s[:, None],
        memory=mem, hbm_capacity_bytes=hw.gpu.hbm_bytes * TRAINING_HBM_USABLE_FRACTION,
        layout_ok=layout_mask(scenario.model, w, plans.tp, plans.pp, plans.vpp, plans.cp, plans.ep, plans.dp,
                              plans.micro_batch, hw.scale_up_domain_gpus, scenario.allow_span),
        precision_ok=r.supported[prec],
        gpus=gpus.astype(np.int64), power_w=gpus * hw.gpu.power_w,
    )


def evaluate_training_plan(scenario: TrainingScenario, plan: TrainingPlan) -> TrainingScores:
    """Score a single plan (a one-row `TrainingScores`)."""
    return evaluate_training(scenario, TrainingPlanArrays.from_plans([plan]))
