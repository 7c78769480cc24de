"""The MoE-layer curve (``planner.engine.kernels.moe``) against ``moe_perf``: fit and score.

Rows: every ``moe_perf`` row of the six systems and three engines whose ``moe_dtype`` the
planner maps to a quantisation mode (``moe.MODE_DTYPES``: bfloat16, fp8, fp8_block, int4_wo,
nvfp4, w4a8_mxfp4_mxfp8, w4a16_mxfp4; no row is left out on these dtypes), all 27 token counts
(1-16,384) and every shape. One parameter set per (engine, system, dtype, kernel) is fitted by
soft-L1 robust least squares on relative error (``planner.calibration.fit.robust_least_squares``).

Kernels: an engine runs one dtype through different kernels by shape (the table's
``kernel_source``: e.g. SGLang on Blackwell runs bf16 Mixtral- and Llama-4-shaped layers on its
Triton kernel, 1.5-2x slower than the FlashInfer TensorRT-LLM kernel it runs for ten other
shapes; SGLang on Hopper runs the non-gated bf16 experts on FlashInfer's CUTLASS kernel, 4-7x
their bytes). The planner's curve for a dtype is fitted on all its rows (the engine's kernels as
it picks them across shapes: it cannot know which one an unseen model gets); where the engine runs
the dtype on several kernels, one more parameter set per kernel is fitted on that kernel's rows
(``kernels.<dtype>.<kernel>`` in the TOML) and every row is scored against the curve of the kernel
it ran: how well the curve's form fits each kernel. The table also scores the planner's curves.

Wide expert parallelism: an engine's wide-EP expert kernel, timed apart (``WIDE_EP_TABLES``: SGLang's
``DeepEPMoE`` in ``wideep_generation_moe_perf``, FP8 block-scaled, EP 2-256, 1-32,768 tokens), gets one
more parameter set per (engine, system, dtype), the ``wide_ep`` entries of the TOML, fitted and scored on
its own rows the same way (``planner.engine.kernels.moe``, "Wide expert parallelism", says when the
planner uses it).

Routing: the fit uses the ``power_law_1.01`` rows. That is the distribution aiconfigurator
itself predicts with by default (its ``power_law`` workload), and the nearest to a trained router:
it hits fewer distinct experts than ``balanced`` (which spreads ``T k`` choices over exactly
``min(E, T k)`` experts, a best case no router achieves) and at small batch matches the uniform
random draw, while ``power_law_1.2`` is a heavier skew. Scores are reported on the fitted rows at
1-256 tokens per step (the decode regime), at all token counts, and, for reference with the same
parameters, on the ``balanced`` rows at 1-256 tokens.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from hardware.catalogue import default_catalogue
from planner import quant, units
from planner.calibration import kernels
from planner.calibration.fit import robust_least_squares
from planner.calibration.kernel_fits import Score
from planner.calibration.kernel_fits import score as make_score
from planner.engine.kernels import moe
from planner.serving.roofline import moe_imbalance

TABLE = "moe_perf"
# The tables of an engine's wide-EP expert kernel (planner.engine.kernels.moe.WIDE_EP): SGLang's DeepEPMoE decode
# (low-latency) layer. TensorRT-LLM's wideep_moe_perf (its WIDEEP backend's NVFP4 CUTLASS kernel) is not used:
# fitted the same way (its rows without redundant expert slots) and taken for its rows with whole experts over EP
# ranks, the disaggregated decode pools moved away from their measurements (GB200 TPOT MAPE 35.9 -> 54.2 %, GB300
# 87.6 -> 101.5 %, B200 48.2 -> 60.5 %; docs/accuracy.md, "Wide-EP expert kernel").
WIDE_EP_TABLES = {"sglang": "wideep_generation_moe_perf"}
FIT_DISTRIBUTION = "power_law_1.01"
DECODE_TOKENS = 256  # the done-when's regime: 1-256 tokens per step
COLUMNS = ["moe_dtype", "num_tokens", "hidden_size", "inter_size", "topk", "num_experts", "moe_tp_size",
           "moe_ep_size", "distribution", "kernel_source"]
# (hidden, inter, top-k, experts) of plain up/down (squared-ReLU) experts, two matrices each: the
# Nemotron-3 shapes. The 512-expert top-22 ones are named by TensorRT-LLM's own tables, whose
# kernel_source for them is `moe_torch_flow_nongated`; the 128-expert top-6 one by its 1-token rows:
# (2688, 1856) top-6 on H200 vLLM bf16 takes 51 us, 6 x 2 x 2688 x 1856 x 2 B = 120 MB at 4.2 TB/s
# (29 us) plus the ~22 us floor; three matrices would need 43 us of streaming.
NON_GATED = ((2688, 1856, 6, 128), (1024, 2688, 22, 512), (2048, 5120, 22, 512), (8192, 5120, 22, 512))
DTYPE_MODES = {d: m for m, ds in moe.MODE_DTYPES.items() if m != "int8" for d in ds}
# Start of the fit (transformed units below): 30 us, half of peak, 80 % of HBM, 32 rows of padding per
# expert, 256-column thinness, blend 2, sharpness 2, one routing pass, 0.5 us per expert, a 5 us batch
# path from 100 choices per step, a skew of 0.05 per ln(ep).
THETA0 = np.array([np.log(30.0), 0.0, np.log(4.0), np.log(32.0), np.log(256.0), 0.0, np.log(1.5), 0.0, np.log(0.5),
                   np.log(5.0), np.log(100.0), np.log(0.05)])


def params_of(theta: np.ndarray) -> dict:
    """Physical parameters of ``theta``: positive by exp, fractions by logistic (<= 1), blend >= 1."""
    return {"launch_us": float(np.exp(theta[0])), "compute_fraction": float(1.0 / (1.0 + np.exp(-theta[1]))),
            "hbm_fraction": float(1.0 / (1.0 + np.exp(-theta[2]))), "pad_tokens": float(np.exp(theta[3])),
            "thin_inter": float(np.exp(theta[4])), "blend": float(1.0 + np.exp(theta[5])),
            "hit_sharpness": float(0.5 + np.exp(theta[6])), "permute_passes": float(np.exp(theta[7])),
            "expert_us": float(np.exp(theta[8])), "path_us": float(np.exp(theta[9])),
            "path_pairs": float(np.exp(theta[10])), "skew": float(np.exp(theta[11]))}


def gpu_of(system: str):
    return default_catalogue().gpu(kernels.SYSTEM_GPUS[system])


def applied(params: dict, gpu, dtype: str) -> dict:
    """``params`` on ``gpu``: fractions times its dtype peak and achievable HBM bandwidth."""
    peak = _peak_of(gpu, dtype)
    return {"launch_s": units.from_us(params["launch_us"]), "flop_per_s": peak * params["compute_fraction"],
            "bytes_per_s": gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction * params["hbm_fraction"],
            "pad_tokens": params["pad_tokens"], "thin_inter": params["thin_inter"], "blend": params["blend"],
            "hit_sharpness": params["hit_sharpness"], "permute_passes": params["permute_passes"],
            "expert_s": units.from_us(params["expert_us"]), "path_s": units.from_us(params["path_us"]),
            "path_pairs": params["path_pairs"], "skew": params["skew"]}


def _peak_of(gpu, dtype: str) -> float:
    compute = quant.MODES[DTYPE_MODES[dtype]].compute_dtype
    if dtype in ("w4a16_mxfp4", "int4_wo"):  # weight-only: bf16 math
        compute = "bf16"
    bf16 = gpu.peak_flop_per_s.get("bf16") or 0.0
    return max(gpu.peak_flop_per_s.get(compute) or 0.0, bf16)


def matrices(rows: dict) -> np.ndarray:
    """Weight matrices per expert of each row: 2 for the ``NON_GATED`` shapes, else 3."""
    out = np.full(rows["num_tokens"].size, moe.GATED_MATRICES)
    for hidden, inter, topk, experts in NON_GATED:
        out[(rows["hidden_size"] == hidden) & (rows["inter_size"] == inter) & (rows["topk"] == topk)
            & (rows["num_experts"] == experts)] = 2.0
    return out


def predict(rows: dict, params: dict, gpu, dtype: str) -> np.ndarray:
    """The curve's seconds for ``rows`` (numpy columns of one dtype), with the EP imbalance the
    planner applies (``planner.serving.roofline.moe_imbalance``), as at plan time."""
    tokens, topk, ep = (rows[k].astype(float) for k in ("num_tokens", "topk", "moe_ep_size"))
    return moe.layer_s(tokens, rows["hidden_size"].astype(float), rows["inter_size"].astype(float), topk,
                       rows["num_experts"].astype(float), rows["moe_tp_size"].astype(float), ep,
                       quant.MODES[DTYPE_MODES[dtype]].bytes_per_element, applied(params, gpu, dtype),
                       imbalance=moe_imbalance(tokens, topk, ep), matrices=matrices(rows))


@cache
def frames() -> tuple[dict, ...]:
    """``moe_perf`` of every system and engine, rows of the mapped dtypes only."""
    out = []
    for f in kernels.load(TABLE, columns=COLUMNS):
        keep = np.isin(f["moe_dtype"], list(DTYPE_MODES))
        out.append({k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in f.items()})
    return tuple(out)


def _subset(f: dict, mask: np.ndarray) -> dict:
    return {k: (v[mask] if isinstance(v, np.ndarray) else v) for k, v in f.items()}


def fit_group(rows: dict, gpu, dtype: str) -> dict:
    """Parameters of one (engine, system, dtype) fitted to ``rows``."""
    measured = rows["latency_s"]

    def residuals(theta):
        return predict(rows, params_of(theta), gpu, dtype) / measured - 1.0

    return params_of(robust_least_squares(residuals, THETA0.copy(), iterations=40, prior_weight=1e-4))


def fitted() -> dict:
    """``{engine: {gpu: {dtype: params, "kernels": {dtype: {kernel: params}}}}}`` fitted on the
    ``FIT_DISTRIBUTION`` rows: each dtype's entry on all its rows (every kernel the engine runs it
    on, the planner's curve) and, where the engine runs the dtype on several kernels, one set per
    kernel on that kernel's rows under ``kernels``."""
    out: dict = {}
    for f in frames():
        gpu = gpu_of(f["system"])
        rows = _subset(f, f["distribution"] == FIT_DISTRIBUTION)
        entry = out.setdefault(f["engine"], {}).setdefault(gpu.name, {})
        for dtype in sorted(set(rows["moe_dtype"].tolist())):
            group = _subset(rows, rows["moe_dtype"] == dtype)
            entry[dtype] = fit_group(group, gpu, dtype)
            names = sorted(set(group["kernel_source"].tolist()))
            for kernel in names if len(names) > 1 else ():
                params = fit_group(_subset(group, group["kernel_source"] == kernel), gpu, dtype)
                entry.setdefault("kernels", {}).setdefault(dtype, {})[kernel] = params
    for engine, gpu, dtype, rows in wide_groups():
        entry = out.setdefault(engine, {}).setdefault(gpu.name, {})
        entry.setdefault(moe.WIDE_EP, {})[dtype] = fit_group(rows, gpu, dtype)
    return out


@cache
def wide_frames() -> tuple[dict, ...]:
    """The ``WIDE_EP_TABLES`` of every system, rows of the mapped dtypes only."""
    out = []
    for engine, table in WIDE_EP_TABLES.items():
        for f in kernels.load(table, engine=engine, columns=COLUMNS):
            keep = np.isin(f["moe_dtype"], list(DTYPE_MODES))
            out.append({k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in f.items()})
    return tuple(out)


def wide_groups():
    """(engine, GPU, dtype, rows) of the wide-EP tables: each system's ``FIT_DISTRIBUTION`` rows of one dtype."""
    for f in wide_frames():
        rows = _subset(f, f["distribution"] == FIT_DISTRIBUTION)
        for dtype in sorted(set(rows["moe_dtype"].tolist())):
            yield f["engine"], gpu_of(f["system"]), dtype, _subset(rows, rows["moe_dtype"] == dtype)


def _params_lines(params: dict) -> list[str]:
    return [f"{k} = {params[k]:.6g}" for k in moe.PARAMS]


def fit_text() -> str:
    """A fresh fit as the TOML text of ``planner/engine/data/kernels/moe.toml``."""
    lines = ["# MoE-layer curve (planner/engine/kernels/moe.py): parameters per engine, GPU and kernel dtype,",
             "# fitted on every kernel the engine runs the dtype on (the planner's curve); under `kernels`, where",
             "# it runs the dtype on several, one set per kernel (moe_perf's kernel_source; scored, not planned with).",
             "# Regenerate with: python bench/kernel_fits.py --fit", ""]
    data = fitted()
    for engine in sorted(data):
        for gpu in sorted(data[engine]):
            entry = data[engine][gpu]
            for dtype in sorted(k for k in entry if k not in ("kernels", moe.WIDE_EP)):
                lines.append(f'[{engine}."{gpu}".{dtype}]')
                lines += _params_lines(entry[dtype]) + [""]
            for dtype, others in sorted(entry.get("kernels", {}).items()):
                for kernel, params in sorted(others.items()):
                    lines.append(f'[{engine}."{gpu}".kernels.{dtype}.{kernel}]')
                    lines += _params_lines(params) + [""]
            lines += wide_lines(engine, gpu, entry)
    lines += ["[sources]",
              f'fit = "fitted by bench/kernel_fits.py --fit to calibration/kernels/{TABLE} (aiconfigurator-core '
              f'0.12.0), {FIT_DISTRIBUTION} rows, all token counts, one set per kernel_source; wide_ep: the same '
              f'to {", ".join(sorted(set(WIDE_EP_TABLES.values())))} (planner/calibration/kernel_fits/moe.py)"']
    return "\n".join(lines) + "\n"


def wide_lines(engine: str, gpu: str, entry: dict) -> list[str]:
    """The TOML lines of one GPU's ``wide_ep`` entries (``fit_text``)."""
    lines = []
    for dtype, params in sorted(entry.get(moe.WIDE_EP, {}).items()):
        lines.append(f'[{engine}."{gpu}".{moe.WIDE_EP}.{dtype}]')
        lines += _params_lines(params) + [""]
    return lines


def predictions(f: dict, own_kernel: bool = True) -> np.ndarray:
    """The shipped curve's seconds for every row of frame ``f``: each row with the parameters of the
    kernel it ran (``own_kernel``), else with its dtype's (all kernels: the planner's curve)."""
    gpu = gpu_of(f["system"])
    out = np.empty(f["latency_s"].size)
    for dtype in set(f["moe_dtype"].tolist()):
        for kernel in set(f["kernel_source"][f["moe_dtype"] == dtype].tolist()):
            mask = (f["moe_dtype"] == dtype) & (f["kernel_source"] == kernel)
            params = moe.kernel_parameters(f["engine"], gpu.name, dtype, kernel if own_kernel else None)
            out[mask] = predict(_subset(f, mask), params, gpu, dtype)
    return out


def score() -> list[Score]:
    """Per system and engine: the shipped curves (each row with its own kernel's) against the fitted
    rows at 1-256 tokens and at every token count; the planner's curves (each dtype's, fitted on all
    its kernels) against the same 1-256-token rows; and, for reference, the own-kernel curves on
    ``balanced`` at 1-256 tokens."""
    sets = ((f"{TABLE} {FIT_DISTRIBUTION} 1-{DECODE_TOKENS} tok", FIT_DISTRIBUTION, DECODE_TOKENS, True),
            (f"{TABLE} {FIT_DISTRIBUTION} all tok", FIT_DISTRIBUTION, None, True),
            (f"{TABLE} {FIT_DISTRIBUTION} 1-{DECODE_TOKENS} tok, planner curve", FIT_DISTRIBUTION, DECODE_TOKENS,
             False),
            (f"{TABLE} balanced 1-{DECODE_TOKENS} tok", "balanced", DECODE_TOKENS, True))
    out = []
    for label, distribution, most, own in sets:
        for f in frames():
            mask = f["distribution"] == distribution
            if most is not None:
                mask &= f["num_tokens"] <= most
            rows = _subset(f, mask)
            out.append(make_score("moe", label, f["system"], f["engine"], predictions(rows, own),
                                  rows["latency_s"]))
    for engine, table in WIDE_EP_TABLES.items():
        for label, most in ((f"{table} {FIT_DISTRIBUTION} 1-{DECODE_TOKENS} tok", DECODE_TOKENS),
                            (f"{table} {FIT_DISTRIBUTION} all tok", None)):
            for f in wide_frames():
                if f["engine"] != engine:
                    continue
                rows = _subset(f, (f["distribution"] == FIT_DISTRIBUTION) & (f["num_tokens"] <= (most or np.inf)))
                out.append(make_score("moe", label, f["system"], engine, wide_predictions(rows), rows["latency_s"]))
    return out


def wide_predictions(f: dict) -> np.ndarray:
    """The shipped wide-EP curves' seconds for every row of wide-EP frame ``f`` (NaN where none is shipped)."""
    gpu = gpu_of(f["system"])
    out = np.full(f["latency_s"].size, np.nan)
    for dtype in set(f["moe_dtype"].tolist()):
        params = moe.wide_parameters(f["engine"], gpu.name, dtype)
        mask = f["moe_dtype"] == dtype
        if params is not None:
            out[mask] = predict(_subset(f, mask), params, gpu, dtype)
    return out


# Token bands of by_ep_markdown: 1-256, 257-1,024, 1,025-4,096 and 4,097-16,384 tokens per step.
EP_TOKEN_BINS = (1, 257, 1025, 4097, 16385)


def by_ep_markdown() -> str:
    """The planner's curve (each dtype's, all kernels) over the measured latency, median by expert-parallel size and
    tokens per step, over every system's and engine's ``FIT_DISTRIBUTION`` rows without tensor-parallel expert
    shards (``moe_tp_size`` 1), as a markdown table; below 1 the curve is faster than the kernel."""
    ratios: dict = {}
    for f in frames():
        rows = _subset(f, (f["distribution"] == FIT_DISTRIBUTION) & (f["moe_tp_size"] == 1))
        ratio = predictions(rows, own_kernel=False) / rows["latency_s"]
        band = np.searchsorted(EP_TOKEN_BINS, rows["num_tokens"], side="right") - 1
        for ep in np.unique(rows["moe_ep_size"]):
            for b in range(len(EP_TOKEN_BINS) - 1):
                picked = ratio[(rows["moe_ep_size"] == ep) & (band == b)]
                ratios.setdefault((int(ep), b), []).append(picked)
    eps = sorted({ep for ep, _ in ratios})
    labels = [f"{lo:,}-{hi - 1:,}" for lo, hi in zip(EP_TOKEN_BINS, EP_TOKEN_BINS[1:])]
    lines = ["| tokens per step | " + " | ".join(f"ep {ep}" for ep in eps) + " |", "|---|" + "---:|" * len(eps)]
    for b, label in enumerate(labels):
        cells = []
        for ep in eps:
            values = np.concatenate(ratios.get((ep, b), [np.empty(0)]))
            cells.append(f"{np.median(values):.2f}" if values.size else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
