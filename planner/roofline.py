"""Decode-step roofline: compute, HBM, communication and offload time of one pipeline stage.

All functions are pure and vectorised over candidate rows (numpy arrays of equal length).
Quantities are per GPU for one *micro-batch* passing one *pipeline stage*; with ``pp``
stages the batch is split into ``pp`` micro-batches of ``T = batch / pp`` sequences that
flow through the stages back to back, so one decode step (every sequence gains a token)
takes ``pp`` stage times and each stage is busy all the time.

Modelling assumptions (each a named term below):

* Layers: the slowest stage carries ``ceil(L / pp)`` layers with the model's MoE/dense mix;
  the embedding and output projection are spread evenly over the stages.
* Linear FLOPs per token are ``2 x active parameters`` (seed Note 2), split over the GPUs
  that hold each block: attention and dense FFN over ``tp`` (replicated over ``dp``), routed
  experts over the ``tp * dp`` GPUs of the stage.
* Routed-expert weights read per step are the expected number of *distinct* experts hit:
  with ``n`` token-choices drawn uniformly among ``E`` experts, each expert is hit with
  probability ``1 - (1 - k/E)^T`` (``T`` tokens, top-``k``).
* EP load imbalance: tokens arriving at each of ``ep`` ranks are approximately Poisson
  with mean ``mu = T k / ep``; the slowest rank sets the pace, and the expected maximum of
  ``ep`` such counts is about ``mu + sqrt(2 mu ln ep)`` (Gaussian extreme-value
  approximation), so expert compute is scaled by ``1 + sqrt(2 ln(ep) / mu)``, at most ``ep``.
* KV cache: each attention group reads its own sequences' cache; GQA heads are split over
  ``min(tp, kv_heads)``, MLA's latent is held whole by every TP rank. The offloaded fraction
  is streamed from host memory over the host link every step (PCIe, or NVLink-C2C on Grace).
* Activations: about ``ACTIVATION_PASSES_PER_LAYER`` reads/writes of a hidden vector per
  token per layer (norms, residuals, projections' inputs and outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner import quant
from planner.plan import PlanArrays
from planner.rates import Rates
from planner.shape import ModelShape

# Bytes per activation element on the wire and in HBM (bf16 activations in every engine).
ACTIVATION_BYTES = 2.0
# Hidden-vector reads+writes per token per layer: ~4 norms/residual adds x (read + write).
ACTIVATION_PASSES_PER_LAYER = 8.0


@dataclass(frozen=True)
class Layout:
    """Derived per-row layout quantities shared by every term."""

    tp: np.ndarray
    pp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    batch: np.ndarray
    gpus: np.ndarray          # tp * pp * dp
    stage_gpus: np.ndarray    # tp * dp
    moe_tp: np.ndarray        # tp * dp / ep
    micro_tokens: np.ndarray  # T = batch / pp sequences per micro-batch
    group_tokens: np.ndarray  # T / dp sequences per attention group
    stage_layers: np.ndarray  # ceil(L / pp)
    moe_layers: np.ndarray    # stage_layers x MoE share
    dense_layers: np.ndarray
    kv_split: np.ndarray
    weight_bytes: np.ndarray  # per element, by row
    kv_bytes: np.ndarray
    offload: np.ndarray


def layout(shape: ModelShape, plans: PlanArrays) -> Layout:
    """Derive the per-row quantities of ``plans``."""
    tp = plans.tp.astype(float)
    pp = plans.pp.astype(float)
    dp = plans.dp.astype(float)
    ep = plans.ep.astype(float)
    stage_layers = np.ceil(shape.num_layers / pp)
    moe_layers = stage_layers * shape.moe_layer_fraction
    if shape.is_mla:
        kv_split = np.ones_like(tp)
    else:
        kv_split = np.minimum(tp, shape.kv_heads)
    micro = plans.batch / pp
    return Layout(
        tp=tp, pp=pp, ep=ep, dp=dp, batch=plans.batch.astype(float),
        gpus=tp * pp * dp, stage_gpus=tp * dp, moe_tp=tp * dp / ep,
        micro_tokens=micro, group_tokens=micro / dp,
        stage_layers=stage_layers, moe_layers=moe_layers, dense_layers=stage_layers - moe_layers,
        kv_split=kv_split,
        weight_bytes=quant.BYTES_PER_ELEMENT[plans.quant],
        kv_bytes=quant.BYTES_PER_ELEMENT[plans.kv_quant],
        offload=plans.kv_offload_fraction.astype(float),
    )


def moe_imbalance(micro_tokens: np.ndarray, top_k: int, ep: np.ndarray) -> np.ndarray:
    """Slowest-rank / mean-rank expert load for ``ep`` ranks (1 where ``ep == 1``)."""
    mu = np.maximum(micro_tokens * top_k / ep, 1e-9)
    ratio = 1.0 + np.sqrt(2.0 * np.log(ep) / mu)
    return np.minimum(ratio, np.maximum(ep, 1.0))


def experts_hit_fraction(tokens: np.ndarray, top_k: int, num_experts: int) -> np.ndarray:
    """Expected share of routed experts hit at least once by ``tokens`` tokens choosing top-k."""
    miss = 1.0 - top_k / num_experts
    return 1.0 - np.power(miss, tokens)


def compute_s(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray) -> np.ndarray:
    """Compute time of one micro-batch on one stage, per GPU, in seconds."""
    rate = r.decode_flop_per_s[quant_index]
    per_group = lay.group_tokens / lay.tp
    dense_flop = 2.0 * per_group * (
        shape.attention_params * lay.stage_layers
        + shape.dense_ffn_params * lay.dense_layers
        + shape.shared_params * lay.moe_layers
        + (shape.embedding_params + shape.lm_head_params) / lay.pp
    )
    routed_flop = 0.0
    if shape.num_moe_layers:
        imbalance = moe_imbalance(lay.micro_tokens, shape.top_k, lay.ep)
        routed_flop = (2.0 * shape.expert_params * shape.top_k * lay.micro_tokens / lay.stage_gpus
                       * lay.moe_layers * imbalance)
    attention_flop = shape.attention_flop_per_token / shape.num_layers * lay.stage_layers * per_group
    return dense_flop / rate + routed_flop / (rate * r.moe_scale) + attention_flop / r.attention_flop_per_s


def weight_read_bytes(shape: ModelShape, lay: Layout) -> np.ndarray:
    """Weight bytes one GPU reads for one micro-batch on its stage."""
    dense = (shape.attention_params * lay.stage_layers + shape.dense_ffn_params * lay.dense_layers
             + shape.shared_params * lay.moe_layers + shape.vocab_params / lay.pp) / lay.tp
    routed = 0.0
    if shape.num_moe_layers:
        hit = experts_hit_fraction(lay.micro_tokens, shape.top_k, shape.num_experts)
        routed = shape.num_experts / lay.ep * hit * shape.expert_params / lay.moe_tp * lay.moe_layers
    return (dense + routed) * lay.weight_bytes


def kv_read_bytes(shape: ModelShape, lay: Layout) -> np.ndarray:
    """KV-cache bytes one GPU's attention reads for one micro-batch (HBM plus offloaded)."""
    per_seq = shape.kv_read_sequence_elements / shape.num_layers * lay.stage_layers
    return lay.group_tokens * per_seq * lay.kv_bytes / lay.kv_split


def hbm_s(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """HBM time: weights, the on-GPU share of KV read, new KV written, activations."""
    kv_write = lay.group_tokens * shape.kv_new_token_elements / shape.num_layers * lay.stage_layers \
        * lay.kv_bytes / lay.kv_split
    activations = lay.group_tokens * shape.hidden_size * ACTIVATION_BYTES * ACTIVATION_PASSES_PER_LAYER \
        * lay.stage_layers
    total = weight_read_bytes(shape, lay) + kv_read_bytes(shape, lay) * (1.0 - lay.offload) + kv_write + activations
    return total / r.hbm_bytes_per_s


def offload_s(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """Host-link time to stream the offloaded share of the KV cache for one micro-batch."""
    return kv_read_bytes(shape, lay) * lay.offload / r.host_bytes_per_s


def combine(terms: list[np.ndarray], overlap_fraction: float) -> np.ndarray:
    """Blend of the terms: ``overlap * max + (1 - overlap) * sum``.

    ``overlap_fraction = 1`` assumes compute, HBM traffic, communication and offload
    overlap perfectly (pure roofline); ``0`` assumes they run one after another.
    """
    stacked = np.vstack(terms)
    return overlap_fraction * stacked.max(axis=0) + (1.0 - overlap_fraction) * stacked.sum(axis=0)
