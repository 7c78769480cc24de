"""Attention kernel curves: decode (KV-read bound) and prefill (causal FLOPs), GQA and MLA.

One curve per kernel kind (``KINDS``), each five parameters ``(floor_s, unit_s, half_units,
byte_scale, flop_scale)`` fitted per (engine, GPU) to the measured kernel tables
(``planner.calibration.kernel_fits.attention``; stored in ``planner/engine/data/kernels/attention.toml``).
One call of the kernel over ``units`` parallel work units (CTAs: decode GQA ``batch x kv heads``,
decode MLA ``batch``, prefill ``tokens x heads / 128`` query tiles) reading ``bytes`` and doing
``flops`` takes

    floor_s + unit_s x units + (byte_scale x bytes / HBM + flop_scale x flops / peak) / occupancy,
    occupancy = units / (units + half_units),

with ``HBM`` the GPU's achievable bandwidth (``hbm_bytes_per_s x hbm_efficiency_fraction``) and
``peak`` the dense peak of the kernel's dtype. ``byte_scale >= 1``, ``flop_scale >= 1`` and
``occupancy <= 1``, so no call streams faster than the achievable HBM nor computes faster than the
datasheet peak, and the sum is never below either floor. Short contexts cost the floor (launch and
a minimum kernel duration); little work (few sequences x KV heads, short prompts) leaves SMs idle.

Engines and GPUs, per kind, as ``planner.engine.kernels.tables.pool`` says (the ``default`` engine
pools the measured engines of its GPU; a GPU without kernel rows is transferred, the scales being
fractions of its own peaks and bandwidth; an engine without a kind's table on a GPU, such as vLLM
without MLA-core tables, pools the other engines there).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from planner.engine.kernels import tables
from specbase.record import record

# Decode kernels read an FP8 KV cache at their own speed (SGLang's dequantising paths run 2x slower per
# FLOP on H200 than BF16), so each decode kind has an ``_fp8`` twin for KV caches of at most one byte.
KINDS = ("decode", "decode_fp8", "prefill", "mla_decode", "mla_decode_fp8", "mla_prefill")
PARAMETERS = ("floor_s", "unit_s", "half_units", "byte_scale", "flop_scale")
# Query rows one prefill work unit (CTA) covers: FlashAttention-2/3's 128-row query tile.
QUERY_TILE = 128.0


@record
class AttentionCurves:
    """Fitted parameters of one engine on one GPU: ``params[kind]`` is ``PARAMETERS`` as a float array.

    Attributes:
        params: kind -> (floor_s, unit_s, half_units, byte_scale, flop_scale).
        measured: True when the GPU has kernel rows; False when transferred from the median.
    """

    params: dict[str, np.ndarray]
    measured: bool

    def time_s(self, kind: str, calls, units, bytes_, flops, hbm_bytes_per_s: float, peak_flop_per_s: float):
        """Seconds of ``calls`` kernel calls, each over ``units`` work units (module docstring).

        ``bytes_`` and ``flops`` are the totals over the calls; arrays broadcast.
        """
        return time_s(self.params[kind], calls, units, bytes_, flops, hbm_bytes_per_s, peak_flop_per_s)


def time_s(p: np.ndarray, calls, units, bytes_, flops, hbm_bytes_per_s: float, peak_flop_per_s: float):
    """The curve of parameters ``p`` (``PARAMETERS`` order); see the module docstring.

    E.g. ``p = (5 us, 0, 64, 1.25, 2)``, one call over 64 units reading 48 MB and doing 1 GFLOP on an
    H200 (4.2 TB/s achievable, 989 TFLOP/s): occupancy 0.5, ``5 us + (1.25 x 11.43 us + 2 x 1.011 us)
    / 0.5 = 5 + 32.62 = 37.62 us``.
    """
    floor, unit, half, byte_scale, flop_scale = p
    units = np.maximum(units, 1e-9)
    # work / occupancy, with the scalar factors folded first (the evaluator calls this on every row)
    # (no bytes, a scalar 0.0: only the FLOPs' term, as adding 0.0 to it changes no figure; it is never -0.0)
    work = flops * (flop_scale / peak_flop_per_s) if np.ndim(bytes_) == 0 and bytes_ == 0.0 \
        else bytes_ * (byte_scale / hbm_bytes_per_s) + flops * (flop_scale / peak_flop_per_s)
    return calls * (floor + unit * units) + work * ((units + half) / units)


def _data() -> dict:
    return tables.read("attention")


@cache
def curves(engine: str, gpu: str) -> AttentionCurves:
    """Curves of ``engine`` (profile name; unknown names use ``default``) on catalogue GPU ``gpu``,
    per kind as ``planner.engine.kernels.tables.pool`` picks them (median of several)."""
    data = _data()
    gpu = gpu.lower()
    params = {}
    for kind in KINDS:
        entries, _ = tables.pool(data, engine, gpu, has=lambda entry, kind=kind: kind in entry)
        params[kind] = tables.middle([e[kind] for e in entries]) if entries else None
    return AttentionCurves(params=params, measured=any(gpu in per_gpu for per_gpu in data.values()))


@record
class AttentionKernels:
    """One engine's attention curves on one GPU with the rates they are fractions of.

    Attributes:
        curves: the fitted (or transferred) parameters.
        hbm_bytes_per_s: achievable HBM bandwidth, ``hbm_bytes_per_s x hbm_efficiency_fraction``.
        peak_flop_per_s: the GPU's dense BF16 peak (the planner runs attention in BF16).
    """

    curves: AttentionCurves
    hbm_bytes_per_s: float
    peak_flop_per_s: float

    def time_s(self, kind: str, calls, units, bytes_, flops, kv_fp8=False):
        """Seconds of ``calls`` calls of ``kind`` over ``units`` work units each (module docstring).

        ``kv_fp8`` (bool or per-row bool array) selects a decode kind's ``_fp8`` twin.
        """
        params, args = self.curves.params, (calls, units, bytes_, flops, self.hbm_bytes_per_s, self.peak_flop_per_s)
        if kind + "_fp8" not in params or not np.any(kv_fp8):
            return time_s(params[kind], *args)
        fp8 = time_s(params[kind + "_fp8"], *args)
        if np.all(kv_fp8):
            return fp8
        # both curves, then a pick per row: 2.5x faster than per-row parameters, and exact
        return np.where(kv_fp8, fp8, time_s(params[kind], *args))


def for_gpu(engine: str, gpu) -> AttentionKernels:
    """The curves of ``engine`` on ``gpu`` (a ``hardware.specs.GpuSpec``) against its own peak and bandwidth."""
    peak = gpu.peak_flop_per_s.get("bf16") or max(v or 0.0 for v in gpu.peak_flop_per_s.values())
    return AttentionKernels(curves(engine, gpu.name), gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction, peak)
