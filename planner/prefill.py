"""Prefill (time to first token) of one prompt on an otherwise idle instance.

The prompt's ``isl`` tokens pass every pipeline stage in turn (no pipelining within one
prompt). Within a stage, attention and dense blocks run on one attention group's ``tp``
GPUs and routed experts on the stage's ``tp * dp`` GPUs, at the prefill-shaped efficiency.
Attention FLOPs are the causal sum ``sum_{i < isl} attention(i)``. Every weight is read
once per stage; the stage's collectives carry ``isl`` tokens.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.comm import comm
from planner.memory import weight_bytes_per_gpu
from planner.rates import Rates
from planner.roofline import Layout, combine, moe_imbalance
from planner.shape import ModelShape


def prefill_s(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, overlap_fraction: float,
              per_layer_overhead_s: float, gpus_per_server: int, gpus_per_rack: int) -> np.ndarray:
    """Time to prefill one prompt of ``shape.prefill_tokens`` tokens, in seconds."""
    n = shape.prefill_tokens
    rate = r.prefill_flop_per_s[quant_index]
    dense = 2.0 * n * (shape.attention_params * lay.stage_layers + shape.dense_ffn_params * lay.dense_layers
                       + shape.shared_params * lay.moe_layers
                       + (shape.embedding_params + shape.lm_head_params) / lay.pp) / lay.tp
    # Routed experts wait for the most loaded EP rank, as in decode (planner.roofline.moe_imbalance).
    routed = 2.0 * n * shape.top_k * shape.expert_params * lay.moe_layers / lay.stage_gpus \
        * moe_imbalance(np.full_like(lay.tp, n), shape.top_k, lay.ep) if shape.num_moe_layers else 0.0
    attention = shape.prefill_attention_flop / shape.num_layers * lay.stage_layers / lay.tp
    compute = (dense + routed) / rate + attention / r.prefill_attention_flop_per_s
    hbm = weight_bytes_per_gpu(shape, lay) / r.hbm_bytes_per_s
    tokens = np.full_like(lay.tp, n)
    prompt = replace(lay, micro_tokens=tokens, group_tokens=tokens)
    traffic = comm(shape, prompt, r, gpus_per_server, gpus_per_rack).time_s
    stage = combine([compute, hbm, traffic], overlap_fraction) + per_layer_overhead_s * lay.stage_layers
    return lay.pp * stage
