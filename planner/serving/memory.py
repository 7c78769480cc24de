"""Memory per GPU: weights, KV cache (in HBM and offloaded to host), activations.

Placement follows ``planner.serving.parallel``: a GPU holds ``1 / tp`` of its stage's attention and
dense weights, ``num_experts / ep`` routed experts each split ``moe_tp`` ways, and the
vocabulary matrices split over ``tp`` (both on one GPU when ``pp == 1``, the larger one on
the first/last stage otherwise). Each attention group keeps the KV cache of its
``batch / dp`` sequences for its stage's layers, split over ``min(tp, kv_heads)`` for GQA.
Activations are the working buffers of the largest micro-batch: a few hidden-sized vectors
per token, the FFN intermediate, fp32 logits, and the MoE dispatch buffers.
"""

from __future__ import annotations

from dataclasses import fields
from typing import ClassVar

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES, LOGIT_BYTES
from planner.engine.profile import EngineProfile
from planner.serving.layout import Layout
from planner.serving.shape import ModelShape
from specbase.record import record

# Hidden-sized live buffers per token in a layer (residual, norm output, attention output, QKV).
HIDDEN_BUFFERS_PER_TOKEN = 4.0


class HbmParts:
    """Mixin of a dataclass of bytes per GPU by part: ``total`` is the HBM the parts use.

    Every field counts, in declaration order, except those named in ``NOT_IN_HBM``.
    """

    NOT_IN_HBM: ClassVar[tuple[str, ...]] = ()

    @property
    def total(self) -> np.ndarray:
        """HBM in use: the sum of the parts held in HBM."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name not in self.NOT_IN_HBM)


@record
class Memory(HbmParts):
    """Bytes per GPU (arrays over candidate rows); ``total`` is weights + KV kept in HBM + activations."""

    NOT_IN_HBM = ("kv_offloaded",)

    weights: np.ndarray
    kv_hbm: np.ndarray
    kv_offloaded: np.ndarray
    activations: np.ndarray


def weight_bytes_per_gpu(shape: ModelShape, lay: Layout) -> np.ndarray:
    """Bytes of weights one GPU stores."""
    dense = (shape.attention_params * lay.stage_layers + shape.dense_ffn_params * lay.dense_layers
             + shape.shared_params * lay.moe_layers) / lay.tp
    vocab = np.where(lay.pp > 1, max(shape.embedding_params, shape.lm_head_params),
                     shape.embedding_params + shape.lm_head_params) / lay.tp
    routed = shape.num_experts / lay.ep * shape.expert_params / lay.moe_tp * lay.moe_layers \
        if shape.num_moe_layers else 0.0
    # Block precision as in ``planner.serving.layout`` (experts at the plan's mode; see Layout).
    return dense * lay.dense_weight_bytes + vocab * lay.vocab_weight_bytes + routed * lay.weight_bytes


def memory(shape: ModelShape, lay: Layout) -> Memory:
    """Memory per GPU of every row."""
    kv = lay.batch / lay.dp * shape.kv_sequence_elements / shape.num_layers * lay.stage_layers \
        * lay.kv_bytes / lay.kv_split
    tokens = lay.group_tokens
    ffn = max(shape.intermediate_size, 1)
    act = tokens * (HIDDEN_BUFFERS_PER_TOKEN * shape.hidden_size + 2.0 * ffn / lay.tp) * ACTIVATION_BYTES \
        + tokens * shape.vocab_size / lay.tp * LOGIT_BYTES
    if shape.num_moe_layers:
        act = act + lay.micro_tokens / lay.stage_gpus * shape.top_k * shape.hidden_size * ACTIVATION_BYTES * 2.0
    return Memory(
        weights=weight_bytes_per_gpu(shape, lay),
        kv_hbm=kv * (1.0 - lay.offload),
        kv_offloaded=kv * lay.offload,
        activations=act,
    )


def admitted_sequences(mem: Memory, lay: Layout, hbm_bytes: float, profile: EngineProfile,
                       isl: float = 0.0, osl: float = 0.0) -> np.ndarray:
    """Sequences an instance's KV cache holds at once, at most the batch.

    Per GPU the KV cache gets ``min(hbm x usable - weights - activations,
    kv_memory_fraction x (hbm - weights - activations))``; each sequence of a GPU's attention
    group needs ``mem.kv_hbm / (batch / dp)`` of it at its full length ``isl + osl``, of which
    the engine counts ``(isl + r x osl) / (isl + osl)`` when admitting, with ``r`` the
    profile's ``kv_reserved_output_fraction`` (1: blocks reserved up front; 0.5: allocated on
    demand, the running sequences being halfway through their output on average). At least
    ``dp x pp`` sequences (one per group and micro-batch); rows whose weights do not fit keep
    their batch (infeasible anyway).
    """
    left = hbm_bytes - mem.weights - mem.activations
    free = np.minimum(hbm_bytes * profile.hbm_usable_fraction - mem.weights - mem.activations,
                      profile.kv_memory_fraction * left)
    held = (isl + profile.kv_reserved_output_fraction * osl) / (isl + osl) if isl + osl > 0 else 1.0
    per_sequence = mem.kv_hbm / (lay.batch / lay.dp) * held
    with np.errstate(divide="ignore", invalid="ignore"):
        fits = np.floor(free / per_sequence) * lay.dp
    fits = np.where((free > 0) & (per_sequence > 0), np.maximum(fits, lay.dp * lay.pp), lay.batch)
    return np.minimum(fits, lay.batch)
