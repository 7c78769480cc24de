"""Per-row layout quantities every serving term shares, and the precision of each weight block.

* Layers: the slowest stage carries ``ceil(L / pp)`` layers with the model's MoE/dense mix.
* Weight precision by block: routed experts use the plan's weight quantisation; the other
  block weights (attention, dense FFN, shared experts) use it too unless the checkpoint
  quantises its experts only (gpt-oss's MXFP4: attention, router, embeddings and LM head stay
  BF16, ``models/data/SOURCES.toml``); the LM head uses the engine's ``lm_head_quant``
  (engines keep it BF16).
* KV cache: GQA heads are split over ``min(tp, kv_heads)``; MLA's latent is held whole by every
  TP rank.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner import quant
from planner.serving.plan import PlanArrays
from planner.serving.shape import ModelShape
from specbase.record import record

# Checkpoint formats that quantise the routed experts only: gpt-oss's quant_method "mxfp4" lists
# attention, router, embeddings and lm_head in modules_to_not_convert (models/data/SOURCES.toml).
EXPERTS_ONLY_CHECKPOINT_QUANTS = frozenset({"mxfp4"})


def block_modes(native_weight_quant: str | None, lm_head_quant: str | None) -> tuple[str | None, str | None]:
    """Precision of (non-expert block weights, LM head); ``None`` follows the plan's quantisation.

    An experts-only checkpoint keeps its other weights and LM head in BF16; otherwise the LM
    head follows the engine's ``lm_head_quant``.
    """
    if native_weight_quant in EXPERTS_ONLY_CHECKPOINT_QUANTS:
        return "bf16", lm_head_quant or "bf16"
    return None, lm_head_quant


@record
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
    weight_bytes: np.ndarray  # per element, by row: routed experts (the plan's quantisation)
    kv_bytes: np.ndarray
    offload: np.ndarray
    dense_quant: np.ndarray         # mode index of attention / dense FFN / shared-expert weights
    dense_weight_bytes: np.ndarray  # per element
    vocab_quant: np.ndarray         # mode index of the LM head
    vocab_weight_bytes: np.ndarray  # per element
    whole_sizes: bool = False       # tp, pp, ep, dp are the plans' integers (as floats): whole numbers

    def with_batch(self, batch: np.ndarray) -> Layout:
        """This layout with another batch (micro-batch and group shares follow)."""
        micro = batch / self.pp
        return replace(self, batch=batch, micro_tokens=micro, group_tokens=micro / self.dp)


def layout(shape: ModelShape, plans: PlanArrays, dense_quant: str | None = None,
           vocab_quant: str | None = None) -> Layout:
    """Derive the per-row quantities of ``plans``.

    ``dense_quant`` / ``vocab_quant`` pin the precision of the non-expert block weights and
    of the LM head (mode names); ``None`` follows each row's weight quantisation.
    """
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
    weight_bytes = np.take(quant.BYTES_PER_ELEMENT, plans.quant)

    def pinned(mode: str | None) -> tuple[np.ndarray, np.ndarray]:  # a block's mode index and bytes per element
        if mode is None:
            return plans.quant, weight_bytes
        index = quant.mode_index(mode)
        return np.full_like(plans.quant, index), np.full(plans.quant.shape, quant.BYTES_PER_ELEMENT[index])
    (dense_q, dense_bytes), (vocab_q, vocab_bytes) = pinned(dense_quant), pinned(vocab_quant)
    return Layout(
        tp=tp, pp=pp, ep=ep, dp=dp, batch=plans.batch.astype(float),
        gpus=tp * pp * dp, stage_gpus=tp * dp, moe_tp=tp * dp / ep,
        micro_tokens=micro, group_tokens=micro / dp,
        stage_layers=stage_layers, moe_layers=moe_layers, dense_layers=stage_layers - moe_layers,
        kv_split=kv_split,
        weight_bytes=weight_bytes,
        kv_bytes=np.take(quant.BYTES_PER_ELEMENT, plans.kv_quant),
        offload=plans.kv_offload_fraction.astype(float),
        dense_quant=dense_q, dense_weight_bytes=dense_bytes,
        vocab_quant=vocab_q, vocab_weight_bytes=vocab_bytes,
        whole_sizes=all(np.asarray(c).dtype.kind in "iu" for c in (plans.tp, plans.pp, plans.ep, plans.dp)),
    )
