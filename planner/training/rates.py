"""Achievable rates for training: large-GEMM FLOP/s per precision, attention, HBM, fabrics.

Training's matrix products are large and square-ish (tokens x hidden by hidden x width), the
shape the catalogue's ``prefill_compute_efficiency_fraction`` describes (best-shape GEMM
throughput over dense peak, stas00 "MAMF", docs/sources.md [E8]). No serving-engine profile
applies to training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hardware.specs import TIERS, Hardware
from planner.training.workload import PRECISIONS

# FP8 GEMMs reach a smaller share of their (twice as high) peak than BF16 ones: on H100 the
# best-shape FP8 GEMM runs at 1,402.6 of 1,979 TFLOP/s (70.9 %) against BF16's 794.5 of 989
# (80.3 %), docs/sources.md [E8] (stas00/ml-engineering MAMF table): 0.709 / 0.803 = 0.882.
FP8_GEMM_RELATIVE_EFFICIENCY = 0.882
# Fused causal attention (FlashAttention-3, BF16, head dim 128, 8K tokens) runs at 614 TFLOP/s
# on H100 (pytorch/benchmark PR 2391, (2, 16, 8192, 128)) against 794.5 for the best GEMM [E8]:
# 614 / 794.5 = 0.773 of the GEMM ceiling. Applied to forward and backward alike; FA3's
# backward is reported somewhat slower, so attention-heavy (long-sequence) runs are optimistic.
ATTENTION_RELATIVE_EFFICIENCY = 0.773


@dataclass(frozen=True)
class TrainingRates:
    """Achievable rates, SI units.

    Attributes:
        gemm_flop_per_s: per precision index (``PRECISIONS`` order), linear-layer GEMM rate.
        peak_flop_per_s: per precision index, the dense peak (MFU denominator).
        bf16_peak_flop_per_s: dense BF16 peak (the MFU convention of Llama 3, arXiv 2407.21783).
        fp8_peak_flop_per_s: dense FP8 peak (0 where the GPU has no FP8 tensor cores).
        attention_flop_per_s: fused attention (bf16 math).
        hbm_bytes_per_s: achievable HBM bandwidth.
        fabric_bytes_per_s, fabric_latency_s, fabric_peak_bytes_per_s: per tier (``TIERS``).
        supported: per precision index, whether the GPU has tensor cores for it.
    """

    gemm_flop_per_s: np.ndarray
    peak_flop_per_s: np.ndarray
    bf16_peak_flop_per_s: float
    fp8_peak_flop_per_s: float
    attention_flop_per_s: float
    hbm_bytes_per_s: float
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
    relative = np.array([FP8_GEMM_RELATIVE_EFFICIENCY if p == "fp8" else 1.0 for p in PRECISIONS])
    supported = peaks > 0
    # An unsupported precision is masked out by the candidate filter; give it the bf16 rate so
    # the arithmetic stays finite.
    gemm = np.where(supported, peaks * eff * relative, bf16 * eff)
    fabrics = [hw.fabrics[t] for t in TIERS]
    return TrainingRates(
        gemm_flop_per_s=gemm,
        peak_flop_per_s=np.where(supported, peaks, bf16),
        bf16_peak_flop_per_s=bf16,
        fp8_peak_flop_per_s=gpu.peak_flop_per_s.get("fp8") or 0.0,
        attention_flop_per_s=bf16 * eff * ATTENTION_RELATIVE_EFFICIENCY,
        hbm_bytes_per_s=gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction,
        fabric_bytes_per_s=np.array([f.bytes_per_s * f.efficiency_fraction for f in fabrics]),
        fabric_latency_s=np.array([f.latency_s for f in fabrics]),
        fabric_peak_bytes_per_s=np.array([f.bytes_per_s for f in fabrics]),
        supported=supported,
    )
