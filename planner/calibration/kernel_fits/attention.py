"""Attention curves (``planner.engine.kernels.attention``) against the measured attention tables.

Tables and what one row's work is (per call, one layer):

* ``generation_attention_perf`` (``decode``): ``batch`` sequences of ``step`` cached tokens (the
  window's worth when ``window_size > 0``); bytes ``batch x kv_heads x tokens x 2 x head_dim x``
  KV bytes, FLOPs ``4 x batch x heads x tokens x head_dim``, units ``batch x kv_heads``.
* ``context_attention_perf`` (``prefill``): ``batch`` prompts of ``isl`` tokens; FLOPs
  ``4 x batch x heads x head_dim x causal_pairs(isl, window)`` (``models.counts.causal_pairs``)
  at the dense peak of ``attn_dtype`` (bf16 or fp8); units ``batch x isl x heads / 128``; no bytes.
* ``generation_mla_perf`` (``mla_decode``): DeepSeek-V3's absorbed MLA (latent 512 + rope 64);
  bytes ``batch x step x 576 x`` KV bytes, FLOPs ``batch x heads x step x (2 x 576 + 2 x 512)``,
  units ``batch``.
* ``context_mla_perf`` (``mla_prefill``): un-absorbed, ``2 x (128 + 64) + 2 x 128`` FLOPs per head
  and causal pair; units as prefill.

Decode rows with an FP8 KV cache are fitted as their own kind (``decode_fp8``, ``mla_decode_fp8``):
SGLang's FP8-KV MLA decode on H200 runs at about a third of its BF16 FLOP rate, which one curve
for both missed by 35 % MAPE. Every row of every table is scored (no filter); the fit weights
rows by ``1 / measured`` (relative least squares). Fit: for each of ``HALF_GRID`` values of
``half_units``, nonnegative least squares (exhaustive over active sets: four columns) of
``floor_s``, ``unit_s``, ``byte_scale - 1`` and ``flop_scale - 1``; the best grid point is kept.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

from hardware.catalogue import default_catalogue
from models.counts import causal_pairs
from planner.calibration import kernels
from planner.calibration.kernel_fits import Score
from planner.calibration.kernel_fits import score as make_score
from planner.engine.kernels import attention

TABLES = {"decode": "generation_attention_perf", "prefill": "context_attention_perf",
          "mla_decode": "generation_mla_perf", "mla_prefill": "context_mla_perf"}
COLUMNS = {
    "decode": ["batch_size", "step", "num_heads", "num_key_value_heads", "head_dim", "kv_cache_dtype",
               "window_size"],
    "prefill": ["batch_size", "isl", "num_heads", "num_key_value_heads", "head_dim", "attn_dtype", "window_size"],
    "mla_decode": ["batch_size", "step", "num_heads", "kv_cache_dtype"],
    "mla_prefill": ["batch_size", "isl", "num_heads"],
}
# DeepSeek-V3 MLA dimensions (models/data: kv_lora_rank 512, qk_rope 64, qk_nope 128, v_head 128).
MLA_LATENT, MLA_ROPE, MLA_NOPE, MLA_V = 512, 64, 128, 128
HALF_GRID = np.geomspace(0.25, 4096.0, 25)
DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "fp8": 1.0}
# Tables whose FP8-KV rows get their own ``<kind>_fp8`` curve.
SPLIT_BY_KV = ("decode", "mla_decode")


def _kv_bytes(names: np.ndarray) -> np.ndarray:
    return np.array([DTYPE_BYTES[str(n)] for n in names]) if names.size else np.zeros(0)


def gpu_rates(system: str) -> tuple[float, float, float]:
    """(achievable HBM bytes/s, bf16 and fp8 dense peak FLOP/s) of the system's catalogue GPU."""
    gpu = default_catalogue().gpu(kernels.SYSTEM_GPUS[system])
    bf16 = gpu.peak_flop_per_s["bf16"]
    return gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction, bf16, gpu.peak_flop_per_s.get("fp8") or bf16


def features(kind: str, f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per row: units, bytes, FLOPs and the peak (FLOP/s) the row runs against."""
    hbm, bf16, fp8 = gpu_rates(str(f["system"]))
    b = f["batch_size"].astype(float)
    heads = f["num_heads"].astype(float)
    peak = np.full(b.size, bf16)
    if kind == "decode":
        window = f["window_size"].astype(float)
        tokens = f["step"].astype(float)
        tokens = np.where(window > 0, np.minimum(tokens, window), tokens)
        kvh, d = f["num_key_value_heads"].astype(float), f["head_dim"].astype(float)
        units = b * kvh
        nbytes = b * kvh * tokens * 2.0 * d * _kv_bytes(f["kv_cache_dtype"])
        flops = 4.0 * b * heads * tokens * d
    elif kind == "prefill":
        n, window = f["isl"].astype(float), f["window_size"].astype(float)
        pairs = causal_pairs(n)
        for w in np.unique(window[window > 0]):  # causal_pairs takes one window at a time
            sel = window == w
            pairs[sel] = causal_pairs(n[sel], float(w))
        units = b * n * heads / attention.QUERY_TILE
        nbytes = np.zeros(b.size)
        flops = 4.0 * b * heads * f["head_dim"].astype(float) * pairs
        peak = np.where(f["attn_dtype"] == "fp8", fp8, bf16)
    elif kind == "mla_decode":
        tokens = f["step"].astype(float)
        units = b
        nbytes = b * tokens * (MLA_LATENT + MLA_ROPE) * _kv_bytes(f["kv_cache_dtype"])
        flops = b * heads * tokens * (2.0 * (MLA_LATENT + MLA_ROPE) + 2.0 * MLA_LATENT)
    else:
        n = f["isl"].astype(float)
        units = b * n * heads / attention.QUERY_TILE
        nbytes = np.zeros(b.size)
        flops = b * heads * causal_pairs(n) * (2.0 * (MLA_NOPE + MLA_ROPE) + 2.0 * MLA_V)
    kv_fp8 = f["kv_cache_dtype"] == "fp8" if kind in SPLIT_BY_KV else np.zeros(b.size, dtype=bool)
    return {"units": units, "bytes": nbytes, "flops": flops, "peak": peak, "hbm": np.full(b.size, hbm),
            "kv_fp8": kv_fp8}


@cache
def frames(kind: str) -> tuple[tuple[str, str, dict], ...]:
    """(system, engine, features + measured seconds) of every file of the kind's table (``TABLES`` keys)."""
    out = []
    for f in kernels.load(TABLES[kind], columns=COLUMNS[kind]):
        x = features(kind, f)
        x["latency_s"] = f["latency_s"]
        out.append((str(f["system"]), str(f["engine"]), x))
    return tuple(out)


def predict(p: np.ndarray, x: dict[str, np.ndarray]) -> np.ndarray:
    """The curve's seconds for one call per row (per-row HBM and peak)."""
    return attention.time_s(p, 1.0, x["units"], x["bytes"], x["flops"], x["hbm"], x["peak"])


def _rows(x: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in x.items()}


def _parts(kind: str, x: dict[str, np.ndarray]):
    """(curve kind, row mask) pairs covering a table's rows: FP8-KV decode rows to the ``_fp8`` twin."""
    if kind not in SPLIT_BY_KV:
        return [(kind, np.ones(x["units"].size, dtype=bool))]
    return [(kind, ~x["kv_fp8"]), (kind + "_fp8", x["kv_fp8"])]


def _nnls(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Nonnegative least squares by trying every active set (few columns)."""
    best, best_loss = np.zeros(a.shape[1]), float(y @ y)
    for k in range(1, a.shape[1] + 1):
        for cols in itertools.combinations(range(a.shape[1]), k):
            c, *_ = np.linalg.lstsq(a[:, cols], y, rcond=None)
            if np.all(c >= 0):
                r = y - a[:, cols] @ c
                if r @ r < best_loss:
                    best, best_loss = np.zeros(a.shape[1]), float(r @ r)
                    best[list(cols)] = c
    return best, best_loss


def fit_one(x: dict[str, np.ndarray]) -> np.ndarray:
    """Parameters (``PARAMETERS`` order) minimising the relative squared error on the rows ``x``."""
    t = x["latency_s"]
    w = 1.0 / t
    best, best_loss = None, np.inf
    for half in HALF_GRID:
        occ = x["units"] / (x["units"] + half)
        byte_t, flop_t = x["bytes"] / x["hbm"] / occ, x["flops"] / x["peak"] / occ
        a = np.column_stack([np.ones_like(t), x["units"], byte_t, flop_t]) * w[:, None]
        y = (t - byte_t - flop_t) * w  # byte_scale = 1 + c, flop_scale = 1 + c, c >= 0
        c, loss = _nnls(a, y)
        if loss < best_loss:
            best, best_loss = np.array([c[0], c[1], half, 1.0 + c[2], 1.0 + c[3]]), loss
    return best


def fits() -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """engine -> catalogue GPU -> kind -> fitted parameters."""
    out: dict = {}
    for table_kind in TABLES:
        for system, engine, x in frames(table_kind):
            for kind, mask in _parts(table_kind, x):
                if mask.any():
                    gpu = out.setdefault(engine, {}).setdefault(kernels.SYSTEM_GPUS[system], {})
                    gpu[kind] = fit_one(_rows(x, mask))
    return out


def fit_text() -> str:
    """A fresh fit as the TOML text of ``planner/engine/data/kernels/attention.toml``."""
    lines = ["# Attention kernel curves (planner/engine/kernels/attention.py): per engine and GPU, each kind's",
             "# [floor_s, unit_s, half_units, byte_scale, flop_scale].", "",
             "[sources]",
             'all = "fitted by bench/kernel_fits.py --fit to calibration/kernels/{generation_attention_perf,'
             'context_attention_perf,generation_mla_perf,context_mla_perf} (aiconfigurator-core 0.12.0)"']
    for engine, gpus in sorted(fits().items()):
        for gpu, kinds in sorted(gpus.items()):
            lines += ["", f'[{engine}."{gpu}"]']
            for kind in attention.KINDS:
                if kind in kinds:
                    p = kinds[kind]
                    lines.append(f"{kind} = [{', '.join(f'{v:.4g}' for v in p)}]")
    return "\n".join(lines) + "\n"


def score() -> list[Score]:
    """The shipped curves against every row, one score per (table, system, engine)."""
    out = []
    for table_kind in TABLES:
        for system, engine, x in frames(table_kind):
            params = attention.curves(engine, kernels.SYSTEM_GPUS[system]).params
            predicted = np.zeros(x["units"].size)
            for kind, mask in _parts(table_kind, x):
                predicted[mask] = predict(params[kind], _rows(x, mask))
            out.append(make_score("attention", TABLES[table_kind], system, engine, predicted, x["latency_s"]))
    return out
