"""GEMM kernel curve: the time of one ``C[m, n] = A[m, k] B[k, n]`` from its FLOPs and bytes.

One GEMM on one GPU takes (:func:`gemm_time_s`)::

    t = floor_s + max(waves x tile FLOPs x SMs / (peak x efficiency),
                      (A + B + C bytes) / (achievable HBM x hbm_fraction))
        + quant_bytes x m x k / achievable HBM

* **Compute, with tile/wave quantisation.** The output is cut into ``tile_m x tile_n`` tiles;
  the ``ceil(m / tile_m) x ceil(n / tile_n)`` tiles run in waves of one tile per SM, and every
  wave costs a full wave's FLOPs. So a decode GEMM of a few tokens pays for ``tile_m`` rows, and
  a GEMM of slightly more tiles than SMs pays for two waves. The tile is an effective
  granularity chosen by the fit among :data:`TILES` per (GPU, engine, dtype) (the engines' GEMM
  libraries pick among many tile shapes and split the reduction when tiles are few).
  ``efficiency`` (<= 1) is the asymptotic share of the dtype's dense datasheet peak
  (``gpu.peak_flop_per_s``).
* **HBM.** A at the activation width, B (the weights) at the weight width, C in BF16, streamed
  at ``hbm_fraction`` (<= 1) of the GPU's achievable bandwidth
  (``hbm_bytes_per_s x hbm_efficiency_fraction``): never faster than the measured copy rate.
* **Activation quantisation.** FP8/FP4 GEMMs first quantise their BF16 activations in a separate
  pass (per-tensor or per-token scales), one after the other: ``quant_bytes`` per element of A
  at the achievable bandwidth (at least the 3 bytes read and written, more when the pass is slow).
* **Launch floor.** ``floor_s`` per kernel: the smallest GEMM still takes a few microseconds.

Parameters (``efficiency``, ``hbm_fraction``, ``floor_us``) are fitted per (GPU, engine, table
dtype) to ``calibration/kernels/*/gemm/*/gemm_perf`` by ``planner.calibration.kernel_fits.gemm``
and stored in ``planner/engine/data/kernels/gemm.toml``; which a profile gets is
``planner.engine.kernels.tables.pool`` (a GPU without kernel rows, MI300X, H800, ..., takes the
measured GPUs' median, applied to its own peaks, bandwidth and SM count: "transferred"). Plan
quantisation modes map to table dtypes by :data:`MODE_DTYPES`; a mode the GPU has no tensor cores
for runs weight-only at the BF16 peak and BF16's fitted efficiency.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np

from planner import quant, units
from planner.engine.kernels import tables
from planner.engine.kernels.modes import at_modes, stacked
from specbase.record import record

# Effective output tiles (m x n) the fit chooses among; on H200 vLLM BF16, 16 x 64 scores 11.6 % MAPE,
# 64 x 64 21.8 %, while Blackwell nvfp4 prefers 128 x 128 (13.5 % against 24.3 % at 16 x 64).
TILES = ((16, 64), (64, 128), (128, 128), (128, 256))
# Output (C) bytes per element: every engine's GEMMs write BF16.
OUTPUT_BYTES = 2.0
# Table dtype each plan quantisation mode runs as (int8 has no rows: it runs as fp8 does).
# A mode runs at its own compute dtype's peak; without tensor cores for it, weight-only at the BF16 rate.
MODE_DTYPES = {"bf16": "bfloat16", "fp8": "fp8", "int8": "fp8", "fp4": "nvfp4", "int4": "nvfp4"}
# The curve's row after the modes: FP8 weights with a scale per block (a model released so, DeepSeek-V3's 128 x 128
# blocks: ``ModelShape.block_scaled_fp8``), on the engine's block-scaled kernel (``fp8_block``); the fp8 row where the
# engine has none fitted (vLLM: its rows time the host, ``planner.calibration.kernel_fits.gemm.HOST_TIMED``).
FP8_BLOCK_ROW = len(quant.MODE_NAMES)
# Bytes per element of A (activations) in each table dtype; B follows the plan's weight mode.
DTYPE_ACTIVATION_BYTES = {"bfloat16": 2.0, "fp8": 1.0, "fp8_block": 1.0, "nvfp4": 0.5}
# Datasheet peak each table dtype runs at (``hardware.specs.DTYPES``).
DTYPE_PEAK = {"bfloat16": "bf16", "fp8": "fp8", "fp8_block": "fp8", "nvfp4": "fp4"}
PARAMS = ("efficiency", "hbm_fraction", "floor_us", "quant_bytes", "tile_m", "tile_n")


@record
class GemmCurve:
    """The curve's constants for one (GPU, engine), per quantisation mode (``quant.MODE_NAMES`` order).

    Attributes:
        flop_per_s: peak of the mode's compute dtype x fitted efficiency (<= the peak).
        bytes_per_s: achievable HBM bandwidth x fitted fraction (<= the achievable).
        floor_s: launch floor per GEMM kernel.
        quant_s_per_element: activation-quantisation time per element of A.
        tile_m, tile_n: effective output tile.
        activation_bytes, weight_bytes: bytes per element of A and B.
        sm_count: SMs (CUs) the tiles spread over.
        measured: True when the GPU has kernel rows; False when transferred.
    """

    flop_per_s: np.ndarray
    bytes_per_s: np.ndarray
    floor_s: np.ndarray
    quant_s_per_element: np.ndarray
    tile_m: np.ndarray
    tile_n: np.ndarray
    activation_bytes: np.ndarray
    weight_bytes: np.ndarray
    sm_count: float
    measured: bool

    def take(self, mode) -> GemmCurve:
        """The constants of quantisation mode index ``mode`` (an int, or an array: one row each)."""
        return replace(self, flop_per_s=self.flop_per_s[mode], bytes_per_s=self.bytes_per_s[mode],
                       floor_s=self.floor_s[mode], quant_s_per_element=self.quant_s_per_element[mode],
                       tile_m=self.tile_m[mode], tile_n=self.tile_n[mode],
                       activation_bytes=self.activation_bytes[mode], weight_bytes=self.weight_bytes[mode])


def gemm_time_s(m, n, k, c: GemmCurve) -> np.ndarray:
    """Seconds for one GEMM of ``m x k`` by ``k x n`` under ``c`` (one mode's constants, :meth:`GemmCurve.take`).

    E.g. H200 (132 SMs), 16 tokens through a 4,096 -> 4,096 BF16 projection; efficiency 0.8, HBM
    fraction 0.9, floor 3 us, 16 x 64 tiles, no quantisation pass: 64 tiles, one wave, compute
    ``2 x 16 x 64 x 132 x 4096 / (989e12 x 0.8) = 1.40 us``; bytes ``(16 x 4096 x 2 + 4096 x 4096 x 2
    + 16 x 4096 x 2) / (4.8e12 x 0.877 x 0.9) = 8.93 us``; time ``3 + 8.93 = 11.93 us``.
    """
    tiles = np.ceil(m / c.tile_m) * np.ceil(n / c.tile_n)
    waves = np.ceil(tiles / c.sm_count)
    compute = waves * (2.0 * c.sm_count) * c.tile_m * c.tile_n * k / c.flop_per_s
    mk = m * k
    moved = mk * c.activation_bytes + k * n * c.weight_bytes + m * n * OUTPUT_BYTES
    return c.floor_s + np.maximum(compute, moved / c.bytes_per_s) + mk * c.quant_s_per_element


@record
class RowsCurve:
    """Per-row constants of a mode array and ``m`` rows, prepared once for many GEMMs (:func:`rows`)."""

    tiles_m: np.ndarray        # ceil(m / tile_m)
    inv_tile_n: np.ndarray
    inv_sm: float
    wave_s_per_k: np.ndarray   # one wave's seconds per unit of k: 2 tile_m tile_n SMs / FLOP/s
    in_s_per_k: np.ndarray     # m x activation bytes / bandwidth
    out_s_per_n: np.ndarray    # m x output bytes / bandwidth
    weight_s: np.ndarray       # weight bytes per element / bandwidth
    quant_s_per_k: np.ndarray  # m x activation-quantisation seconds per element
    floor_s: np.ndarray

    def sum_time_s(self, dims, inv_tp: np.ndarray) -> np.ndarray:
        """Sum of :func:`gemm_time_s` over ``dims``, ``(n, k, split)`` each; ``split`` ``"n"`` or ``"k"``
        divides that dimension by tp (``inv_tp = 1 / tp``), ``""`` leaves both whole.

        The same arithmetic as :func:`gemm_time_s`, reordered so that the per-row constants are
        computed once: ``m k a + k n w + m n c = k (m a + n w) + n (m c)``.
        """
        total = len(dims) * self.floor_s
        for n, k, split in dims:
            if split == "n":
                n = n * inv_tp
            elif split == "k":
                k = k * inv_tp
            compute = self.tiles_m * np.ceil(n * self.inv_tile_n)  # waves x wave time
            compute *= self.inv_sm
            np.ceil(compute, out=compute)
            compute *= self.wave_s_per_k * k
            total = _add_gemm(total, compute, k * (self.in_s_per_k + n * self.weight_s), n * self.out_s_per_n,
                              k, self.quant_s_per_k)
        return total

    def sum_shapes_s(self, gemms: GemmShapes) -> np.ndarray:
        """:meth:`sum_time_s` of the GEMMs whose ``m``-free parts ``gemms`` holds (bit for bit; each GEMM's
        ``ceil(n / tile_n)``, wave time and weight time taken instead of computed)."""
        total = self.floor_s if len(gemms) == 1 else len(gemms) * self.floor_s  # (1 x floor is floor; not written)
        for n, k, tiles_n, wave_s, weight_s in zip(gemms.n, gemms.k, gemms.tiles_n, gemms.wave_s, gemms.weight_s):
            compute = self.tiles_m * tiles_n  # waves x wave time
            compute *= self.inv_sm
            np.ceil(compute, out=compute)
            compute *= wave_s
            memory = self.in_s_per_k + weight_s
            memory *= k
            total = _add_gemm(total, compute, memory, n * self.out_s_per_n, k, self.quant_s_per_k)
        return total


def _add_gemm(total, compute, memory, output, k, quant_s_per_k):
    """``total + max(compute, memory + output) + k x quant_s_per_k``, in that order (:meth:`RowsCurve.sum_time_s`),
    reusing ``compute``'s and ``memory``'s arrays for the temporaries (the same figures, less memory traffic)."""
    memory += output
    np.maximum(compute, memory, out=compute)
    compute += total
    np.multiply(k, quant_s_per_k, out=memory)
    compute += memory
    return compute


@record
class Dims:
    """GEMMs ``(n, k, split)`` summed once by :meth:`RowsCurve.sum_time_s` (:class:`GemmShapes` prepares them
    for many sums)."""

    dims: list
    inv_tp: np.ndarray

    def __len__(self) -> int:
        return len(self.dims)

    def sum_s(self, c: RowsCurve) -> np.ndarray:
        return c.sum_time_s(self.dims, self.inv_tp)


@record
class GemmShapes:
    """What does not depend on the rows ``m`` of each of several GEMMs, stacked, shape (gemms, rows) each (so
    that ``take_rows`` subsets them): ``n`` and ``k`` after the tp split, ``ceil(n / tile_n)``, one wave's
    seconds and ``n x`` weight seconds per element, under one mode array's constants (:class:`ModeRows`)."""

    n: np.ndarray
    k: np.ndarray
    tiles_n: np.ndarray
    wave_s: np.ndarray
    weight_s: np.ndarray

    @classmethod
    def of(cls, c: ModeRows, dims, inv_tp: np.ndarray) -> GemmShapes:
        """``dims`` (``(n, k, split)`` each, as :meth:`RowsCurve.sum_time_s` takes them) under ``c``."""
        n, k = np.empty((len(dims), *np.shape(inv_tp))), np.empty((len(dims), *np.shape(inv_tp)))
        for i, (n_i, k_i, split) in enumerate(dims):
            n[i], k[i] = n_i * inv_tp if split == "n" else n_i, k_i * inv_tp if split == "k" else k_i
        tiles_n = n * c.inv_tile_n
        np.ceil(tiles_n, out=tiles_n)
        return cls(n=n, k=k, tiles_n=tiles_n, wave_s=c.wave_s_per_k * k, weight_s=n * c.weight_s)

    def __len__(self) -> int:
        return self.n.shape[0]

    def sum_s(self, c: RowsCurve) -> np.ndarray:
        return c.sum_shapes_s(self)


@record
class ModeRows:
    """A mode array's per-row constants that do not depend on the GEMMs' rows: :func:`rows` at any ``m`` is
    :meth:`at` (the serving fixed point's rounds change only ``m``)."""

    inv_tile_m: np.ndarray
    inv_tile_n: np.ndarray
    inv_sm: float
    wave_s_per_k: np.ndarray
    in_s_per_m: np.ndarray     # activation bytes / bandwidth
    out_s_per_m: np.ndarray    # output bytes / bandwidth
    weight_s: np.ndarray
    quant_s_per_m: np.ndarray  # activation-quantisation seconds per element
    floor_s: np.ndarray

    def at(self, m: np.ndarray) -> RowsCurve:
        """The constants of GEMMs of ``m`` rows (``rows(curve, mode, m)``, bit for bit)."""
        return RowsCurve(tiles_m=np.ceil(m * self.inv_tile_m), inv_tile_n=self.inv_tile_n, inv_sm=self.inv_sm,
                         wave_s_per_k=self.wave_s_per_k, in_s_per_k=m * self.in_s_per_m,
                         out_s_per_n=m * self.out_s_per_m, weight_s=self.weight_s,
                         quant_s_per_k=m * self.quant_s_per_m, floor_s=self.floor_s)


def modes(curve: GemmCurve, mode: np.ndarray) -> ModeRows:
    """``curve``'s constants for rows of quantisation modes ``mode``, whatever their GEMMs' rows."""
    inv_tile_m, inv_tile_n, wave_s_per_k, in_s, out_s, weight_s, quant_s, floor_s = _picked(curve, mode)
    return ModeRows(inv_tile_m=inv_tile_m, inv_tile_n=inv_tile_n, inv_sm=1.0 / curve.sm_count,
                    wave_s_per_k=wave_s_per_k, in_s_per_m=in_s, out_s_per_m=out_s, weight_s=weight_s,
                    quant_s_per_m=quant_s, floor_s=floor_s)


def rows(curve: GemmCurve, mode: np.ndarray, m: np.ndarray) -> RowsCurve:
    """``curve``'s constants for rows of quantisation modes ``mode`` running GEMMs of ``m`` rows each
    (``modes(curve, mode).at(m)``, without keeping the ``m``-free constants: fewer arrays alive at once)."""
    inv_tile_m, inv_tile_n, wave_s_per_k, in_s, out_s, weight_s, quant_s, floor_s = _picked(curve, mode)
    return RowsCurve(tiles_m=np.ceil(m * inv_tile_m), inv_tile_n=inv_tile_n, inv_sm=1.0 / curve.sm_count,
                     wave_s_per_k=wave_s_per_k, in_s_per_k=m * in_s, out_s_per_n=m * out_s, weight_s=weight_s,
                     quant_s_per_k=m * quant_s, floor_s=floor_s)


def _picked(curve: GemmCurve, mode: np.ndarray) -> list:
    """The per-mode constants :func:`rows` and :func:`modes` read, at each row's mode (``modes.at_modes``):
    1 / tile_m, 1 / tile_n, one wave's seconds per unit of k, activation, output and weight seconds per element,
    quantisation seconds per element, floor."""
    return at_modes(stacked(curve, lambda: np.stack(np.broadcast_arrays(
        1.0 / curve.tile_m, 1.0 / curve.tile_n, 2.0 * curve.sm_count * curve.tile_m * curve.tile_n / curve.flop_per_s,
        curve.activation_bytes / curve.bytes_per_s, OUTPUT_BYTES / curve.bytes_per_s,
        curve.weight_bytes / curve.bytes_per_s, curve.quant_s_per_element, curve.floor_s))), mode)


@record
class Modes:
    """A curve and a mode array for one :meth:`at` (:class:`ModeRows` keeps their constants for many)."""

    curve: GemmCurve
    mode: np.ndarray

    def at(self, m: np.ndarray) -> RowsCurve:
        return rows(self.curve, self.mode, m)


def fitted() -> dict:
    """``{gpu: {engine: {dtype: {param: value}}}}`` from ``gemm.toml`` (without its sources)."""
    return tables.read("gemm")


@cache
def _by_engine() -> dict:
    """:func:`fitted` turned ``{engine: {gpu: ...}}``, the shape ``tables.pool`` reads."""
    out: dict = {}
    for gpu, per_engine in fitted().items():
        for engine, entry in per_engine.items():
            out.setdefault(engine, {})[gpu] = entry
    return out


def params(gpu_name: str, engine: str) -> tuple[dict[str, dict], bool]:
    """Fitted ``{dtype: {param: value}}`` of ``(gpu_name, engine)`` and whether they were measured:
    the entries ``planner.engine.kernels.tables.pool`` picks, per dtype their median."""
    entries, measured = tables.pool(_by_engine(), engine, gpu_name)
    dtypes = sorted({d for e in entries for d in e})
    return {d: tables.median([e[d] for e in entries if d in e], PARAMS) for d in dtypes}, measured


_CURVES: dict[tuple[int, str], tuple[object, GemmCurve]] = {}


def curve(gpu, engine: str) -> GemmCurve:
    """The GEMM curve of catalogue GPU ``gpu`` (a ``GpuSpec`` with ``sm_count``) under ``engine`` (cached)."""
    key = (id(gpu), engine)
    if key not in _CURVES:  # the spec is kept beside its curve, so its id is not reused
        _CURVES[key] = (gpu, _curve(gpu, engine))
    return _CURVES[key][1]


def _curve(gpu, engine: str) -> GemmCurve:
    by_dtype, measured = params(gpu.name, engine)
    per_mode = []
    for name in quant.MODE_NAMES:
        dtype = MODE_DTYPES[name]
        peak = gpu.peak_flop_per_s.get(quant.MODES[name].compute_dtype)
        if not peak or dtype not in by_dtype:  # no tensor cores for it: weight-only at the BF16 rate
            dtype, peak = "bfloat16", gpu.peak_flop_per_s["bf16"]
        weight_bytes = float(quant.BYTES_PER_ELEMENT[quant.mode_index(name)])
        per_mode.append(dtype_curve(gpu, dtype, by_dtype[dtype], weight_bytes, peak))
    fp8 = per_mode[quant.mode_index("fp8")]
    block = "fp8_block" in by_dtype and gpu.peak_flop_per_s.get("fp8")
    per_mode.append(dtype_curve(gpu, "fp8_block", by_dtype["fp8_block"], float(fp8.weight_bytes)) if block else fp8)
    fields = ("flop_per_s", "bytes_per_s", "floor_s", "quant_s_per_element", "tile_m", "tile_n",
              "activation_bytes", "weight_bytes")
    return GemmCurve(**{f: np.array([getattr(c, f) for c in per_mode]) for f in fields},
                     sm_count=_sm_count(gpu), measured=measured)


def _sm_count(gpu) -> float:
    # Without an SM count every tile is its own wave: tile padding only, no wave quantisation.
    return float(gpu.sm_count or 1)


def dtype_curve(gpu, dtype: str, p: dict[str, float], weight_bytes: float, peak: float | None = None) -> GemmCurve:
    """The curve of table dtype ``dtype`` with parameters ``p`` (scalars): one mode's constants.

    ``peak``: the datasheet peak it runs at (default: the table dtype's, ``DTYPE_PEAK``).
    """
    hbm = gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction
    peak = gpu.peak_flop_per_s[DTYPE_PEAK[dtype]] if peak is None else peak
    return GemmCurve(
        flop_per_s=peak * min(1.0, p["efficiency"]),
        bytes_per_s=hbm * min(1.0, p["hbm_fraction"]),
        floor_s=units.from_us(p["floor_us"]),
        quant_s_per_element=p["quant_bytes"] / hbm,
        tile_m=float(p["tile_m"]), tile_n=float(p["tile_n"]),
        activation_bytes=DTYPE_ACTIVATION_BYTES[dtype], weight_bytes=weight_bytes,
        sm_count=_sm_count(gpu), measured=True)
