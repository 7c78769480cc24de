"""Achievable rates for training: the GEMM kernel curve per precision, attention, HBM, fabrics.

Linear layers run on the measured GEMM kernel curve (``planner.engine.kernels.gemm``;
``planner.training.gemm_time``) of the ``default`` engine, which pools the engines measured on the
GPU (a GPU without kernel rows, such as the H800, takes their median fractions on its own peaks).
Fused attention runs at a share of the catalogue's best-shape GEMM throughput
(``prefill_compute_efficiency_fraction``, stas00 "MAMF", docs/sources.md [E8]).
"""

from __future__ import annotations

import numpy as np

from hardware.specs import TIERS, Hardware
from planner import quant
from planner.engine.kernels import gemm, moe
from planner.engine.rates import HOST_LINK_EFFICIENCY
from planner.training.workload import PRECISIONS
from specbase.record import record

# The GEMM curve's engine: ``default`` pools the measured engines (planner.engine.kernels.tables).
GEMM_ENGINE = "default"
# Fused causal attention (FlashAttention-3, BF16, head dim 128, 8K tokens) runs at 614 TFLOP/s
# on H100 (pytorch/benchmark PR 2391, (2, 16, 8192, 128)) against 794.5 for the best GEMM [E8]:
# 614 / 794.5 = 0.773 of the GEMM ceiling. Applied to forward and backward alike; FA3's
# backward is reported somewhat slower, so attention-heavy (long-sequence) runs are optimistic.
ATTENTION_RELATIVE_EFFICIENCY = 0.773


@record
class TrainingRates:
    """Achievable rates, SI units.

    Attributes:
        gemm: the GEMM kernel curve of the GPU (all quantisation modes).
        gemm_mode: per precision index (``PRECISIONS`` order), the curve's quantisation mode index.
        permute_s_per_byte: per precision index, seconds per byte of hidden vector a routed token-expert
            pair moves through the MoE routing passes (sort, gather, scatter): the MoE-layer curve's fitted
            ``permute_passes`` over its bandwidth (``planner.engine.kernels.moe``).
        peak_flop_per_s: per precision index, the dense peak (MFU denominator).
        bf16_peak_flop_per_s: dense BF16 peak (the MFU convention of Llama 3, arXiv 2407.21783).
        fp8_peak_flop_per_s: dense FP8 peak (0 where the GPU has no FP8 tensor cores).
        attention_flop_per_s: fused attention (bf16 math).
        hbm_bytes_per_s: achievable HBM bandwidth.
        host_bytes_per_s: achievable host-link bandwidth per direction (activation offload).
        fabric_bytes_per_s, fabric_latency_s, fabric_peak_bytes_per_s: per tier (``TIERS``).
        supported: per precision index, whether the GPU has tensor cores for it.
    """

    gemm: gemm.GemmCurve
    gemm_mode: np.ndarray
    permute_s_per_byte: np.ndarray
    peak_flop_per_s: np.ndarray
    bf16_peak_flop_per_s: float
    fp8_peak_flop_per_s: float
    attention_flop_per_s: float
    hbm_bytes_per_s: float
    host_bytes_per_s: float
    fabric_bytes_per_s: np.ndarray
    fabric_latency_s: np.ndarray
    fabric_peak_bytes_per_s: np.ndarray
    supported: np.ndarray


def training_rates(hw: Hardware) -> TrainingRates:
    """Rates of ``hw`` for training (see module docstring)."""
    gpu = hw.gpu
    eff = gpu.prefill_compute_efficiency_fraction
    bf16 = gpu.peak_flop_per_s["bf16"] or 0.0
    peaks = np.array([gpu.peak_flop_per_s[p] or 0.0 for p in PRECISIONS])
    supported = peaks > 0
    fabrics = [hw.fabrics[t] for t in TIERS]
    modes = np.array([quant.mode_index(p) for p in PRECISIONS])
    dtype_peaks = np.array([max(gpu.peak_flop_per_s.get(quant.MODES[n].compute_dtype) or 0.0, bf16)
                            for n in quant.MODE_NAMES])
    routing = moe.curve(GEMM_ENGINE, gpu, dtype_peaks, gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction)
    return TrainingRates(
        # A precision without tensor cores is masked out by the candidate filter; the curve runs it
        # weight-only at the BF16 rate, so the arithmetic stays finite.
        gemm=gemm.curve(gpu, GEMM_ENGINE),
        gemm_mode=modes,
        permute_s_per_byte=(routing.permute_passes / routing.bytes_per_s)[modes],
        peak_flop_per_s=np.where(supported, peaks, bf16),
        bf16_peak_flop_per_s=bf16,
        fp8_peak_flop_per_s=gpu.peak_flop_per_s.get("fp8") or 0.0,
        attention_flop_per_s=bf16 * eff * ATTENTION_RELATIVE_EFFICIENCY,
        hbm_bytes_per_s=gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction,
        host_bytes_per_s=gpu.host_link_bytes_per_s * HOST_LINK_EFFICIENCY.get(gpu.host_link, 0.85),
        fabric_bytes_per_s=np.array([f.bytes_per_s * f.efficiency_fraction for f in fabrics]),
        fabric_latency_s=np.array([f.latency_s for f in fabrics]),
        fabric_peak_bytes_per_s=np.array([f.bytes_per_s for f in fabrics]),
        supported=supported,
    )
