"""Training's GEMM time on the measured GEMM kernel curve: dense blocks, routed experts, MLA up-projections.

The curve (``planner.engine.kernels.gemm``, fitted to NVIDIA's kernel tables) prices one ``m x k`` by
``k x n`` GEMM with tile/wave quantisation, its operand bytes, a launch floor and, for FP8, the
activation-quantisation pass; its FP8 rate is the measured one (H100: 1,247 of 1,979 TFLOP/s, 0.63 of
the peak, against BF16's 762 of 989, 0.77). Training calls it per micro-batch and stage, forward:

* **Dense blocks** (``planner.serving.gemms.dense_gemms``: attention projections, dense FFN, shared
  experts and router, LM head). With sequence parallelism a tensor-parallel GEMM runs on the whole
  CP shard's ``m = micro-batch x S / cp`` rows, its ``n`` (column-parallel) or ``k`` (row-parallel)
  split over ``tp``; a replicated GEMM (MLA's down-projection, the router) on the GPU's own
  ``m / tp`` rows.
* **Routed experts** as one grouped GEMM per matrix pair (gate-up, down; experts are not
  tensor-split): the slowest EP rank's rows, ``tokens x top_k`` on average times the Poisson EP
  imbalance ``planner.serving.roofline.moe_imbalance`` of the EP group's tokens, each local expert
  padding its rows to the curve's tile (few tokens per expert waste more), two launch floors; plus
  the routing passes (sort, gather, scatter) over those rows' hidden vectors, as many as the measured
  MoE-layer curve's fitted ``permute_passes`` (H100 FP8: 2.8 bf16 vectors per pair, at its bandwidth).
* **MLA up-projections** (``q_b``, ``kv_b``): what selective recomputation reruns.

The backward pass costs twice the forward: each linear layer computes the gradient of its input and of
its weight, each a GEMM of the forward's FLOPs (Narayanan et al. 2021, arXiv 2104.04473, section 5.1:
"the backward pass ... twice the forward"), costed as the forward's GEMM on the curve, quantisation
pass included (FP8 training casts the output gradients as the forward casts its inputs).

Not the MoE-layer curve (``planner.engine.kernels.moe``) for the expert GEMMs: its tables measure
inference engines' fused MoE kernels, whose FP8 paths run at 0.18-0.30 of the FP8 peak even at 16K
tokens (H100 SGLang ``fp8_block`` at DeepSeek-V3's shape: 400-610 TFLOP/s). It prices one DeepSeek-V3
expert layer on H800 (EP64, 4,096 tokens per GPU) at 358 TFLOP/s, 2.3x slower than this route
(``tests/planner/training/test_training_gemm.py``); DeepSeek-V3's published GPU-hours leave no room for
that. Training's grouped GEMMs (DeepSeek's own FP8 kernels, Transformer Engine's grouped GEMM) run as
dense GEMMs of their per-expert rows; only the curve's routing passes are taken from it.
"""

from __future__ import annotations

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES
from planner.engine.kernels.gemm import GemmCurve
from planner.engine.kernels.gemm import rows as gemm_rows
from planner.serving.roofline import moe_imbalance
from planner.training.shape import TrainingShape


def _dims(shape: TrainingShape, block: str, split: bool) -> list[tuple[float, float, str]]:
    """``(n, k, split)`` of ``block``'s GEMMs that are tensor-parallel (``split``) or replicated."""
    return [(g.n, g.k, g.split) for g in shape.dense_gemms if g.block == block and bool(g.split) == split]


def dense_forward_s(shape: TrainingShape, curve: GemmCurve, mode: np.ndarray, rows: np.ndarray, tp: np.ndarray,
                    layers: np.ndarray, moe_layers: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Forward time of one stage's dense-block GEMMs per GPU (``rows``: the CP shard's tokens of one
    micro-batch; ``layers``, ``moe_layers``: the stage's; ``head``: LM-head passes it runs, 0 without the head)."""
    inv_tp = 1.0 / tp
    split, own = gemm_rows(curve, mode, rows), gemm_rows(curve, mode, rows * inv_tp)

    def block(name: str) -> np.ndarray:
        return split.sum_time_s(_dims(shape, name, True), inv_tp) + own.sum_time_s(_dims(shape, name, False), inv_tp)

    total = layers * block("attention")
    if shape.num_moe_layers < shape.num_layers:
        total = total + (layers - moe_layers) * block("dense")
    if shape.num_moe_layers:
        total = total + moe_layers * block("shared")
    return total + head * block("head")


def expert_forward_s(shape: TrainingShape, curve: GemmCurve, mode: np.ndarray, tokens_gpu: np.ndarray,
                     ep: np.ndarray, moe_layers: np.ndarray, permute_s_per_byte: np.ndarray) -> np.ndarray:
    """Forward time of one stage's routed experts on the slowest GPU of its EP group (``tokens_gpu``: the
    tokens each GPU routes per micro-batch; ``permute_s_per_byte``: the routing passes' seconds per byte
    of a pair's bf16 hidden vector; module docstring)."""
    if not shape.num_moe_layers:
        return np.zeros_like(tokens_gpu)
    local = shape.num_experts / ep
    rows = tokens_gpu * shape.top_k * moe_imbalance(tokens_gpu * ep, shape.top_k, ep)
    tile = np.take(curve.tile_m, mode)
    padded = local * np.ceil(rows / local / tile) * tile  # each expert's rows padded to the tile
    inter = shape.moe_intermediate_size
    dims = [((2.0 if shape.expert_gated else 1.0) * inter, shape.hidden_size, ""), (shape.hidden_size, inter, "")]
    permute = rows * shape.hidden_size * ACTIVATION_BYTES * permute_s_per_byte  # bf16 vectors, as the MoE curve
    return moe_layers * (gemm_rows(curve, mode, padded).sum_time_s(dims, 1.0) + permute)


def mla_up_forward_s(shape: TrainingShape, curve: GemmCurve, mode: np.ndarray, rows: np.ndarray, tp: np.ndarray,
                     layers: np.ndarray) -> np.ndarray:
    """Forward time of one stage's MLA up-projection GEMMs (zero without MLA): what selective
    recomputation reruns (DeepSeek-V3, arXiv 2412.19437 section 3.2.3)."""
    dims = [(g.n, g.k, g.split) for g in shape.up_gemms]
    if not dims:
        return np.zeros_like(rows)
    return layers * gemm_rows(curve, mode, rows).sum_time_s(dims, 1.0 / tp)
