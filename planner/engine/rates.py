"""Achievable rates of one part under one engine: FLOP/s per quantisation, HBM, host link, fabric.

Efficiency fractions are catalogue data per GPU (hardware) scaled by the engine profile.
When a GPU carries the seed notes' ``sustained_decode_flop_per_s`` preset, the decode
compute rate is that figure times the quantisation's ``compute_scale`` (seed Note 2);
otherwise it is the dense peak of the quantisation's compute dtype times the GPU's decode
efficiency. A part without a dtype runs weight-only dequantised kernels at its bf16 rate; 8- and
4-bit tensor-core kernels reach ``narrow_gemm_efficiency_fraction`` (decode-shaped) and
``prefill_narrow_gemm_efficiency_fraction`` (prefill-shaped) of the share bf16 reaches.
"""

from __future__ import annotations

import numpy as np

from hardware.specs import TIERS, Hardware
from planner import quant
from planner.engine.kernels import comm as comm_kernels
from planner.engine.kernels import gemm, moe
from planner.engine.kernels.attention import AttentionKernels, for_gpu
from planner.engine.profile import EngineProfile
from planner.kept import Kept
from specbase.record import record

# PCIe Gen5 x16 host->device measured 55.4 GB/s of 63 GB/s (88 %) on H200 (docs/sources.md [E11]);
# h200_microbench.json h2d_pinned 54.9 GB/s. NVLink-C2C: measured 360-377 of 450 GB/s (~0.82) [N3].
HOST_LINK_EFFICIENCY = {"pcie-gen5": 0.87, "nvlink-c2c": 0.82}
# Share of host DRAM per GPU usable for offloaded KV (the OS, engine and pinned buffers keep the rest).
HOST_MEMORY_USABLE_FRACTION = 0.8


@record
class Rates:
    """Achievable rates, SI units.

    Attributes:
        decode_flop_per_s: per quantisation index, dense GEMM rate in decode-shaped work.
        prefill_flop_per_s: per quantisation index, rate in prefill-shaped work.
        attention_flop_per_s: decode attention kernels (bf16 math).
        moe_scale: engine multiplier for grouped expert GEMMs (the seed preset's MoE terms only).
        moe_curve: the MoE-layer kernel curve (``planner.engine.kernels.moe``) of this engine on
            this GPU; None under the seed preset, which keeps the FLOP/byte terms.
        compute_bound_flop_per_s: per quantisation index, the fastest any kernel runs the mode's
            linear FLOPs, which the compute bound divides by: the dense datasheet peak where the GEMM
            curve times them (its efficiency never exceeds 1 of that peak); the decode rate where the
            FLOP terms do (the seed's Note 2: sustained x compute_scale, or the default decode rate).
        hbm_bytes_per_s: achievable HBM bandwidth.
        host_bytes_per_s: achievable host-link bandwidth (KV offload stream).
        fabric_bytes_per_s, fabric_latency_s: per tier (``TIERS`` order).
        fabric_peak_bytes_per_s: per tier, nominal (utilisation denominator).
        comm_curves: the engine's fitted collective curves on each tier
            (``planner.engine.kernels.comm``); None under the seed preset, whose collectives keep
            the alpha-beta model of ``fabric_bytes_per_s`` and ``fabric_latency_s``.
        gemm: the dense-block GEMM curve (``planner.engine.kernels.gemm``); ``None`` under the
            seed preset or a profile with ``gemm_curve = false``, which keep the FLOP/byte terms.
        attention_kernels: the engine's fitted attention curves on this GPU
            (``planner.engine.kernels.attention``); ``None`` under the seed preset, whose attention
            stays FLOPs at ``attention_flop_per_s`` and KV bytes at ``hbm_bytes_per_s``.
    """

    decode_flop_per_s: np.ndarray
    prefill_flop_per_s: np.ndarray
    attention_flop_per_s: float
    prefill_attention_flop_per_s: float
    moe_scale: float
    compute_bound_flop_per_s: np.ndarray
    hbm_bytes_per_s: float
    host_bytes_per_s: float
    host_memory_bytes: float
    fabric_bytes_per_s: np.ndarray
    fabric_latency_s: np.ndarray
    fabric_peak_bytes_per_s: np.ndarray
    comm_curves: comm_kernels.CommTiers | None
    gemm: gemm.GemmCurve | None = None
    moe_curve: moe.MoeCurve | None = None
    attention_kernels: AttentionKernels | None = None


def _peak(hw: Hardware, dtype: str) -> float:
    bf16 = hw.gpu.peak_flop_per_s.get("bf16") or 0.0
    own = hw.gpu.peak_flop_per_s.get(dtype) or 0.0
    return max(own, bf16)


# A table scored in blocks and rounds asks one (hardware, engine) pair's rates for every block and round (~0.13 ms
# a call on a 2-core EPYC; 56 calls of the example fleet's scoring for 3 pairs): each pair's are computed once
# (`planner.kept`), with every array read-only so no caller changes what the next reads.
_KEPT: Kept[Rates] = Kept(limit=64)


def rates(hw: Hardware, profile: EngineProfile) -> Rates:
    """Rates of ``hw`` under ``profile`` (computed once per pair of specs: its arrays are read-only)."""
    return _KEPT.get((hw, profile), lambda: _read_only(_rates(hw, profile)))


def _read_only(made: Rates) -> Rates:
    for value in vars(made).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return made


def _rates(hw: Hardware, profile: EngineProfile) -> Rates:
    gpu = hw.gpu
    # Physical bounds: no kernel beats the dense peak (efficiency <= 1) and no stream the GPU's
    # achievable HBM fraction (its catalogue value: the measured copy rate on H200).
    dec_eff = min(1.0, gpu.decode_compute_efficiency_fraction * profile.gemm_efficiency_scale)
    pre_eff = min(1.0, gpu.prefill_compute_efficiency_fraction * profile.gemm_efficiency_scale)
    dense_peaks = np.array([_peak(hw, quant.MODES[n].compute_dtype) for n in quant.MODE_NAMES])
    # Modes the part has no tensor cores for run weight-only dequantising kernels at the engine's scale.
    weight_only = np.array([not hw.gpu.peak_flop_per_s.get(quant.MODES[n].compute_dtype) for n in quant.MODE_NAMES])
    peaks = np.where(weight_only, dense_peaks * profile.weight_only_efficiency_scale, dense_peaks)
    # 8- and 4-bit tensor-core kernels reach a smaller share of their (doubled) peak than bf16's.
    bf16_peak = hw.gpu.peak_flop_per_s.get("bf16") or 0.0
    narrow = np.array([(hw.gpu.peak_flop_per_s.get(quant.MODES[n].compute_dtype) or 0.0) > bf16_peak
                       for n in quant.MODE_NAMES])
    prefill_peaks = np.where(narrow, peaks * gpu.prefill_narrow_gemm_efficiency_fraction, peaks)
    peaks = np.where(narrow, peaks * gpu.narrow_gemm_efficiency_fraction, peaks)
    decode = peaks * dec_eff
    attention = _peak(hw, "bf16") * min(1.0, gpu.decode_compute_efficiency_fraction
                                        * profile.attention_efficiency_scale)
    if gpu.sustained_decode_flop_per_s is not None:
        decode = gpu.sustained_decode_flop_per_s * quant.COMPUTE_SCALE
        attention = gpu.sustained_decode_flop_per_s * profile.attention_efficiency_scale
    moe_curve = None
    if gpu.sustained_decode_flop_per_s is None:  # the seed preset keeps the seed notes' MoE terms
        moe_curve = moe.curve(profile.name, gpu, dense_peaks, gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction)
    gemm_curve = gemm.curve(gpu, profile.name) \
        if gpu.sustained_decode_flop_per_s is None and profile.gemm_curve else None
    fabrics = [hw.fabrics[t] for t in TIERS]
    return Rates(
        decode_flop_per_s=decode,
        prefill_flop_per_s=prefill_peaks * pre_eff,
        attention_flop_per_s=attention,
        prefill_attention_flop_per_s=_peak(hw, "bf16") * min(1.0, pre_eff * profile.attention_efficiency_scale),
        moe_scale=profile.moe_efficiency_scale,
        compute_bound_flop_per_s=decode if gemm_curve is None else dense_peaks,
        hbm_bytes_per_s=gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction * min(1.0, profile.hbm_efficiency_scale),
        host_bytes_per_s=gpu.host_link_bytes_per_s * HOST_LINK_EFFICIENCY.get(gpu.host_link, 0.85),
        host_memory_bytes=gpu.host_memory_bytes * HOST_MEMORY_USABLE_FRACTION,
        fabric_bytes_per_s=np.array([f.bytes_per_s * min(1.0, f.efficiency_fraction * profile.comm_efficiency_scale)
                                     for f in fabrics]),
        fabric_latency_s=np.array([f.latency_s for f in fabrics]) * profile.comm_latency_scale,
        fabric_peak_bytes_per_s=np.array([f.bytes_per_s for f in fabrics]),
        comm_curves=None if gpu.sustained_decode_flop_per_s is not None
        else comm_kernels.tiers(comm_kernels.params(profile.name, gpu.name), hw),
        gemm=gemm_curve,
        moe_curve=moe_curve,
        attention_kernels=None if gpu.sustained_decode_flop_per_s is not None else for_gpu(profile.name, gpu),
    )
