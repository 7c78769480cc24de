"""Fit and score of the GEMM curve (``planner.engine.kernels.gemm``) against ``gemm_perf``.

Rows: every row of ``calibration/kernels/*/gemm/*/gemm_perf`` (bfloat16, fp8, fp8_block, nvfp4; m 1-32,768
tokens, n and k 32-65,536) is scored, except the groups of ``HOST_TIMED``, left out of fit and score. The
fit, per (system, engine, dtype), minimises the mean absolute relative error on a random sample of at most
``FIT_ROWS`` rows of that group (``numpy.random.default_rng(0)``, without replacement: the full groups hold
~30,000-36,000 rows and the three parameters are well determined by a few thousand), by coordinate descent
over grids of each parameter: ``efficiency`` and ``hbm_fraction`` in [0.05, 1] (so every fitted rate stays at
or below its physical bound), ``floor_us`` in [0, 50], ``quant_bytes`` in [0, 16] (0 for BF16, which has no
quantisation pass), once for each effective tile of ``planner.engine.kernels.gemm.TILES``, keeping the best.
"""

from __future__ import annotations

import numpy as np

from hardware.catalogue import default_catalogue
from planner.calibration import kernel_fits, kernels
from planner.calibration.kernel_fits import Score
from planner.engine.kernels import gemm

TABLE = "gemm_perf"
COLUMNS = ["gemm_dtype", "m", "n", "k"]
FIT_ROWS = 6000
ROUNDS = 4
GRIDS = {"efficiency": np.linspace(0.05, 1.0, 96), "hbm_fraction": np.linspace(0.05, 1.0, 96),
         "floor_us": np.linspace(0.0, 50.0, 201), "quant_bytes": np.linspace(0.0, 16.0, 65)}
START = {"efficiency": 0.7, "hbm_fraction": 0.9, "floor_us": 3.0, "quant_bytes": 0.0}
# (engine, dtype) groups whose rows time the host, not the kernel, left out of fit and score. vLLM's fp8_block rows
# (its DeepGEMM, CUTLASS and FlashInfer block-scaled kernels) take 56-85 us on H200, 174-278 us on B200 and
# 287-495 us on GB200 at 1-512 rows of a 7,168 -> 4,096 projection, flat in the rows, where DeepGEMM under
# TensorRT-LLM and SGLang on the same GPUs takes 13-22 us; fitted anyway they put the launch floor at its 50 us
# bound (55 % MAPE). Block-scaled FP8 weights under vLLM take its per-tensor fp8 fit (planner.engine.kernels.gemm).
HOST_TIMED = {("vllm", "fp8_block")}
# Weight (B) bytes per element of each table dtype.
WEIGHT_BYTES = {"bfloat16": 2.0, "fp8": 1.0, "fp8_block": 1.0, "nvfp4": 0.5}


def _groups():
    """(gpu spec, system, engine, dtype, m, n, k, measured seconds) per group of the table."""
    catalogue = default_catalogue()
    for frame in kernels.load(TABLE, columns=COLUMNS):
        gpu = catalogue.gpu(kernels.SYSTEM_GPUS[frame["system"]])
        for dtype in sorted(set(frame["gemm_dtype"].tolist())):
            if (frame["engine"], str(dtype)) in HOST_TIMED:
                continue
            rows = frame["gemm_dtype"] == dtype
            m, n, k = (frame[c][rows].astype(float) for c in ("m", "n", "k"))
            yield gpu, frame["system"], frame["engine"], str(dtype), m, n, k, frame["latency_s"][rows]


def predict(gpu, dtype: str, p: dict[str, float], m, n, k) -> np.ndarray:
    """The curve's seconds for GEMMs ``(m, n, k)`` of table dtype ``dtype`` with parameters ``p``."""
    return gemm.gemm_time_s(m, n, k, gemm.dtype_curve(gpu, dtype, p, WEIGHT_BYTES[dtype]))


def _mape(gpu, dtype, p, m, n, k, t) -> float:
    return float(np.mean(np.abs(predict(gpu, dtype, p, m, n, k) - t) / t))


def fit_group(gpu, dtype: str, m, n, k, t) -> dict[str, float]:
    """Parameters minimising the MAPE of one group (module docstring: sample and grids)."""
    if t.size > FIT_ROWS:
        pick = np.random.default_rng(0).choice(t.size, FIT_ROWS, replace=False)
        m, n, k, t = m[pick], n[pick], k[pick], t[pick]
    best, best_error = None, np.inf
    for tile_m, tile_n in gemm.TILES:
        p = {**START, "tile_m": tile_m, "tile_n": tile_n}
        for _ in range(ROUNDS):
            for name, grid in GRIDS.items():
                if name == "quant_bytes" and dtype == "bfloat16":
                    continue
                errors = [_mape(gpu, dtype, {**p, name: float(v)}, m, n, k, t) for v in grid]
                p[name] = float(grid[int(np.argmin(errors))])
        error = _mape(gpu, dtype, p, m, n, k, t)
        if error < best_error:
            best, best_error = p, error
    return best


def fit() -> dict:
    """``{gpu: {engine: {dtype: params}}}`` fitted to every group."""
    out: dict = {}
    for gpu, _system, engine, dtype, m, n, k, t in _groups():
        out.setdefault(gpu.name, {}).setdefault(engine, {})[dtype] = fit_group(gpu, dtype, m, n, k, t)
    return out


def fit_text() -> str:
    """A fresh fit as the text of ``planner/engine/data/kernels/gemm.toml``."""
    lines = ["# GEMM curve parameters (planner/engine/kernels/gemm.py) per [GPU.engine] and table dtype:",
             "# efficiency (share of the dtype's dense peak), hbm_fraction (share of the achievable HBM",
             "# bandwidth), floor_us (launch floor per kernel), quant_bytes (activation-quantisation pass, bytes",
             "# per element of A at the achievable bandwidth), tile_m x tile_n (effective output tile).", "",
             "[sources]",
             f'fit = "fitted by bench/kernel_fits.py --fit to calibration/kernels/{TABLE} '
             '(aiconfigurator-core 0.12.0)"']
    for gpu_name, engines in fit().items():
        for engine, dtypes in engines.items():
            lines += ["", f'["{gpu_name}".{engine}]']
            for dtype, p in dtypes.items():
                lines.append(f"{dtype} = {{ efficiency = {p['efficiency']:.4f}, "
                             f"hbm_fraction = {p['hbm_fraction']:.4f}, "
                             f"floor_us = {p['floor_us']:.2f}, quant_bytes = {p['quant_bytes']:.2f}, "
                             f"tile_m = {p['tile_m']}, tile_n = {p['tile_n']} }}")
    return "\n".join(lines) + "\n"


def score() -> list[Score]:
    """The shipped parameters against every row, one score per (system, engine, dtype)."""
    out = []
    for gpu, system, engine, dtype, m, n, k, t in _groups():
        by_dtype, _ = gemm.params(gpu.name, engine)
        predicted = predict(gpu, dtype, by_dtype[dtype], m, n, k)
        out.append(kernel_fits.score(f"gemm {dtype}", TABLE, system, engine, predicted, t))
    return out
