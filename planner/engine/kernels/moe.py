"""One MoE layer's routed-expert time on one GPU: a compact, bounded curve fitted to ``moe_perf``.

A layer of ``E`` routed experts (``hidden`` x ``inter`` each, gated: three matrices of
``hidden x inter``) receives ``T`` tokens that each pick ``k`` experts; experts are split over
``ep`` ranks and each expert's ``inter`` over ``moe_tp`` ranks. One GPU (:func:`layer_s`):

* **Distinct experts hit.** With ``u = T k / E`` choices per expert, the share of experts hit at
  least once is ``h(u) = (1 - exp(-u^s))^(1/s)``: about ``u`` while choices are fewer than
  experts, 1 once they are many; the sharpness ``s`` is fitted (``s = 1``: independent uniform
  choices; ``s -> inf``: ``min(1, u)``, the collector's ``balanced`` routing; skewed routing hits
  fewer, ``s < 1``). The GPU streams each of its ``E / ep`` experts' shards that is hit once:
  ``bytes = (E / ep) h m hidden (inter / moe_tp) bytes_per_element`` (``m = 3`` matrices), at
  ``hbm_fraction`` (<= 1) of the GPU's achievable HBM bandwidth (``hbm_bytes_per_s x
  hbm_efficiency_fraction``), each shard taking at least ``expert_us`` (a thin shard's few tiles
  cannot stream at full bandwidth). The slowest EP rank reads more than the mean
  (:func:`slowest_rank_hits`), at least one expert. This is why
  the measured layer is flat from ``T ~ E / k`` tokens.
* **Routing skew.** The slowest EP rank's share of the ``T k`` choices is the mean's times the Poisson
  imbalance the caller passes (``planner.serving.roofline.moe_imbalance``: ``1 + sqrt(2 ln(ep) / mu)``, which
  vanishes as the choices per rank ``mu`` grow) plus ``skew x ln(ep)``: a router whose experts are not
  equally popular keeps a hot rank at any batch (the tables' ``power_law`` rows), 0 at ``ep = 1``; the sum
  at most ``ep`` (one rank takes every choice).
* **Grouped GEMM.** FLOPs ``2 x 3 hidden (inter / moe_tp) x (T k / ep x imbalance + hit experts x
  pad_tokens)``: every hit expert pads its rows by ``pad_tokens`` (tile quantisation: the
  efficiency falls with few tokens per expert), at ``compute_fraction x i / (i + thin_inter)``
  of the dtype's dense datasheet peak, ``i = inter / moe_tp`` (thin shards run worse).
  Both fractions are <= 1, so no row beats every FLOP at peak or every byte at peak bandwidth.
* **Routing passes.** Every GPU of the layer sorts, gathers and scatters the activations of all
  ``T k`` token-expert pairs (the engines hand each rank every token and mask the experts it does
  not hold), ``permute_passes`` hidden vectors of 2 bytes per pair at the same bandwidth, whatever
  ``ep``: the measured layer at one expert per rank still grows with ``T``.
* **Batch path.** Above about ``path_pairs`` token-expert choices per step the engines leave their
  low-latency small-batch kernels for the throughput path, whose extra kernels (sorting, aligning
  and permuting the choices) add a fixed ``path_us``: a switch ``x^8 / (1 + x^8)``, ``x = T k /
  path_pairs`` (``PATH_SHARPNESS``). The tables show it most where little else runs: TensorRT-LLM's
  w4a8 layer on B200 with one expert per rank (EP 256) takes 19-24 us up to 8 tokens and a flat
  ~52 us from 32 tokens on, while its expert's weights take ~2 us to stream.
* **Blend and floor.** ``t = launch + path + permute + (compute^p + memory^p)^(1/p)`` (``p = blend``
  >= 1: ``p = 1`` adds them, large ``p`` takes the larger), with the per-layer launch floor
  ``launch_s``.

**Wide expert parallelism.** An engine that dispatches tokens to whole experts over EP ranks with
DeepEP runs its experts on another kernel than its ``moe_perf`` ones: SGLang's ``DeepEPMoE`` (DeepGEMM's
masked grouped GEMM at FP8), which the tables time apart (``wideep_generation_moe_perf``). The planner
already prices SGLang's dispatch and combine on DeepEP's low-latency kernels
(``planner.calibration.kernel_fits.comm``; with attention DP: without it no token is dispatched,
``planner.serving.comm``), so its rows with ``ep > 1`` and whole experts (``moe_tp``
1) take that kernel's curve for the dtypes it was measured in (:func:`mode_rows`; ``wide_ep`` entries
of the TOML, measured GPUs only): on GB200 at EP 32 and 4,096 tokens a step the kernel takes 0.087-0.159
ms where SGLang's ``moe_perf`` curve takes 0.487 ms.

Parameters per (engine, GPU, kernel dtype) live in ``planner/engine/data/kernels/moe.toml``
(fitted by ``bench/kernel_fits.py --fit``) on every kernel the engine runs the dtype on, as it
picks them by shape; where it runs several, each kernel's own parameters are stored beside them
for scoring (:func:`kernel_parameters`). :func:`curve` picks, per quantisation mode, the
kernel dtype an engine runs for it (``MODE_DTYPES``), each as ``planner.engine.kernels.tables.pool``
picks it (a GPU without kernel rows takes the measured GPUs' median fractions, "transferred",
applied to its own peaks and bandwidth).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from planner import quant, units
from planner.engine.kernels import tables
from planner.engine.kernels.modes import at_modes, stacked
from specbase.record import record

PARAMS = ("launch_us", "compute_fraction", "hbm_fraction", "pad_tokens", "thin_inter", "blend", "hit_sharpness",
          "permute_passes", "expert_us", "path_us", "path_pairs", "skew")
PATH_SHARPNESS = 8  # how sharply the batch path switches on around path_pairs choices per step (2^3)
# Kernel dtypes (moe_perf's moe_dtype) an engine runs for each quantisation mode, first found wins.
MODE_DTYPES = {"bf16": ("bfloat16",), "fp8": ("fp8_block", "fp8"), "int8": ("fp8_block", "fp8"),
               "int4": ("int4_wo", "w4a16_mxfp4"), "fp4": ("nvfp4", "w4a8_mxfp4_mxfp8", "w4a16_mxfp4")}
# The one kernel an engine runs for a kernel dtype, where the tables measure it only under another engine
# or measure several for the engine: (engine, moe_dtype) -> (engine that measured it, its moe_perf
# kernel_source). vLLM runs gpt-oss's MXFP4 checkpoint through its GPT-OSS MXFP4 method, whose Hopper rows
# time OAITritonExperts; its other Hopper MXFP4 rows (compressed-tensors W4A4 MXFP4, Marlin) serve another
# checkpoint format, and a fit over both had H100's hbm_fraction at 0.84 against the kernel's 1.00
# (gpt-oss-120b / H100 / vLLM TPOT +12 % signed median, docs/accuracy.md). TensorRT-LLM runs MXFP4
# experts with BF16 activations on Hopper through its TRITON MoE backend, the default there (TensorRT-LLM
# "Deployment Guide for GPT-OSS", MoE backend support matrix: H200, BF16 x MXFP4, TRITON), which calls
# OpenAI's triton_kernels grouped GEMM: the kernel vLLM's tables time as OAITritonExperts. Without this,
# its Hopper MXFP4 layer took the median of every engine's MXFP4 kernels there, Marlin's and SGLang's
# fused Triton kernel (half the bandwidth) included.
SHARED_KERNELS = {("trtllm", "w4a16_mxfp4"): ("vllm", "vllm_gptossmxfp4moe_triton_oaitritonmxfp4expertsmonolithic"),
                  ("vllm", "w4a16_mxfp4"): ("vllm", "vllm_gptossmxfp4moe_triton_oaitritonmxfp4expertsmonolithic")}
# TOML key of an engine's wide-EP kernel per dtype on one GPU (module docstring, "Wide expert parallelism").
WIDE_EP = "wide_ep"
GATED_MATRICES = 3.0  # gate, up and down projections of one expert
HIT_CAP = 50.0  # choices per expert beyond which every expert counts as hit (hit_share: 1 - exp(-50) is 1)
ACTIVATION_BYTES = 2.0  # bf16 activations moved by the routing passes


@record
class MoeCurve:
    """Curve parameters with the GPU's peaks applied; arrays over ``quant.MODE_NAMES``, then (``wide_ep``) over
    the same modes again for the engine's wide-EP kernel (each mode's own curve where none was measured in it).

    Attributes:
        launch_s: fixed time of one layer's expert kernels.
        flop_per_s: dense peak of the mode's dtype x ``compute_fraction``.
        bytes_per_s: achievable HBM bandwidth x ``hbm_fraction``.
        pad_tokens, thin_inter, blend, hit_sharpness, permute_passes, path_pairs: as in the module
            docstring.
        expert_s: least streaming time of one expert's shard.
        path_s: fixed time the batch path adds once it runs.
        skew: the slowest EP rank's load beyond the Poisson imbalance, per ``ln(ep)`` (routing skew).
        transferred: the GPU had no kernel rows (fractions are the measured GPUs' median).
        wide_ep: the arrays carry the wide-EP kernel's modes after the others (:func:`mode_rows`).
    """

    launch_s: np.ndarray
    flop_per_s: np.ndarray
    bytes_per_s: np.ndarray
    pad_tokens: np.ndarray
    thin_inter: np.ndarray
    blend: np.ndarray
    hit_sharpness: np.ndarray
    permute_passes: np.ndarray
    expert_s: np.ndarray
    path_s: np.ndarray
    path_pairs: np.ndarray
    skew: np.ndarray
    transferred: bool = False
    wide_ep: bool = False


def hit_share(choices_per_expert, sharpness, at_cap=None):
    """Share of experts hit at least once: ``(1 - exp(-u^s))^(1/s)`` (module docstring).

    E.g. ``u = 1`` (as many choices as experts), ``s = 1``: ``1 - 1/e = 0.632``. ``u`` stops at
    ``HIT_CAP``; ``at_cap``: the share there at each row's sharpness, when known (:func:`for_modes`): rows at
    the cap take it instead of computing its powers again (the same function of the same inputs: the same bits).
    """
    u = np.minimum(np.asarray(choices_per_expert, dtype=float), HIT_CAP)  # every expert hit by then
    if at_cap is None or np.ndim(u) == 0:
        return _hit_share(u, sharpness)
    out = np.empty(u.shape)  # (C order: written through its flat view below)
    out[...] = at_cap
    below = np.flatnonzero(u < HIT_CAP)
    if below.size:  # (a scalar sharpness stays a scalar: numpy takes a scalar exponent's fast paths)
        some = sharpness if np.ndim(sharpness) == 0 else np.take(np.broadcast_to(sharpness, u.shape), below)
        out.reshape(-1)[below] = _hit_share(np.take(u, below), some)
    return out


def _hit_share(u, sharpness):
    if np.ndim(u) == 0 and np.ndim(sharpness) == 0:
        return np.power(-np.expm1(-np.power(u, sharpness)), 1.0 / sharpness)
    out = power(u, sharpness)  # (1 - exp(-u^s))^(1/s), each step in this one array
    np.negative(out, out=out)
    np.expm1(out, out=out)
    np.negative(out, out=out)
    return power(out, 1.0 / sharpness, out=out)


_LN_FLOAT32_MAX = float(np.log(np.finfo(np.float32).max))  # 88.72: exp beyond overflows single precision


def power(x, p, out=None):
    """``x^p`` for ``x >= 0`` and ``p > 0`` (``0^p = 0``) as ``exp(p ln x)`` in single precision, in ``out`` when
    given (double precision, as every figure around it).

    The MoE curve's powers are its hit share's ``u^s`` and ``(.)^(1/s)`` (``u`` at most ``HIT_CAP``) and its
    blend's ``r^p`` and ``(1 + .)^(1/p)`` (``r`` at most 1): numpy's single-precision ``log`` and ``exp`` run
    vectorised at about 2 ns an element on this project's AVX2 host, against 5-9 ns in double precision (and 16
    for ``np.power``), which made the evaluator's MoE decode 9 % faster. Each result is within
    ``(|p| + |p ln x| + 2) x 2^-23`` relative of the exact power (``x`` rounds to single precision, a rounding the
    power scales by ``p``; tested against ``np.power``): 3e-6 at the hit share's largest, 50^4; the blend's ratios
    raised to its largest exponents (about 130) are off by up to 2e-5 but add to 1 before the ``1/p`` root that
    divides their error by ``p``: the evaluator's step times move by at most 2e-7 relative. The curve's fitted
    parameters carry 4-6 significant digits, its fits 5-15 % errors. A power below single precision's normal range
    (1e-37) may flush to 0; where ``p ln x`` would overflow it (``x^p`` above 3e38, which no power of the curve
    reaches) the power is taken in double precision instead.
    """
    with np.errstate(divide="ignore", over="ignore"):  # ln 0 = -inf: exp(-inf) = 0, as 0^p
        y = np.log(np.asarray(x, dtype=np.float32)) * np.asarray(p, dtype=np.float32)  # (p may broadcast x)
        if y.size and y.max() > _LN_FLOAT32_MAX:
            y = np.log(np.asarray(x, dtype=float)) * p
            return np.exp(y, out=out) if out is not None else np.exp(y)
        np.exp(y, out=y)
    if out is None:
        return y.astype(float)
    np.copyto(out, y)
    return out


def layer_s(tokens, hidden, inter, topk, experts, moe_tp, moe_ep, bytes_per_element, c: MoeCurve | dict,
            imbalance=1.0, matrices=GATED_MATRICES, two_log_ep=None):
    """Seconds of one MoE layer's routed experts on one GPU (module docstring); vectorised.

    ``matrices``: weight matrices per expert (3 gated, 2 for a plain up/down MLP).
    ``c``'s fields are scalars or arrays matching ``tokens`` (index a :class:`MoeCurve`'s
    per-mode arrays by the rows' mode first: :func:`for_modes`). ``imbalance`` scales the
    tokens the slowest EP rank computes (``planner.serving.roofline.moe_imbalance``). ``two_log_ep``: ``2 ln ep``
    of each row (:func:`slowest_rank_hits`), when already known.
    """
    g = c if isinstance(c, dict) else c.__dict__
    choices = tokens * topk  # token-expert choices per step
    shard = matrices * hidden * (inter / moe_tp)  # elements of one expert's shard
    local = experts / moe_ep
    hits = expert_hits(local, choices, experts, moe_ep, g["hit_sharpness"], g.get("hit_at_cap"), two_log_ep)
    log_ep = 0.5 * two_log_ep if two_log_ep is not None else np.log(np.maximum(moe_ep, 1.0))
    imbalance = np.minimum(imbalance + g.get("skew", 0.0) * log_ep, np.maximum(moe_ep, 1.0))  # routing skew
    rows = choices / moe_ep * imbalance + hits * g["pad_tokens"]
    compute = 2.0 * shard * rows / g["flop_per_s"] * (1.0 + g["thin_inter"] * moe_tp / inter)
    p = g["blend"]
    memory = hits * np.maximum(shard * bytes_per_element / g["bytes_per_s"], g["expert_s"])
    blended = _norm(compute, memory, p)
    permute = choices * hidden * ACTIVATION_BYTES * g["permute_passes"] / g["bytes_per_s"]
    return g["launch_s"] + g["path_s"] * path_switch(choices / g["path_pairs"]) + permute + blended


def expert_hits(local, choices, experts, ep, sharpness, at_cap=None, two_log_ep=None):
    """:func:`slowest_rank_hits` of :func:`hit_share` at ``choices / experts`` choices per expert (:func:`layer_s`).

    Token counts stacked on a first axis (``choices`` of shape (counts, rows): ``planner.serving.roofline.moe_s_at``)
    whose every row is at the cap with a whole choice at least take the slowest rank's hits at the cap (``at_cap``),
    computed once per row for all of them: the same function of the same inputs, the same bits (a prompt chunk's
    counts always are at the cap).
    """
    u = choices / experts
    capped = ((u >= HIT_CAP).all(axis=1) & (choices.min(axis=1) >= 1.0)) \
        if at_cap is not None and np.ndim(u) == 2 and u.shape[0] > 1 and u.shape[1] > 0 else None
    if capped is None or not capped.any():
        return slowest_rank_hits(local, hit_share(u, sharpness, at_cap), ep, np.minimum(choices, 1.0), two_log_ep)
    out = np.empty(u.shape)
    out[capped] = slowest_rank_hits(local, at_cap, ep, 1.0, two_log_ep)  # (any_token: min(choices, 1) is 1.0)
    if not capped.all():
        rest = ~capped
        out[rest] = slowest_rank_hits(local, hit_share(u[rest], sharpness, at_cap), ep,
                                      np.minimum(choices[rest], 1.0), two_log_ep)
    return out


def path_switch(ratio):
    """Share of the batch path's fixed time paid at ``ratio`` = choices per step / ``path_pairs``:
    ``x^8 / (1 + x^8)``, 0 -> 0, 1 -> 1/2, 2 -> 0.996 (``PATH_SHARPNESS``)."""
    x = np.minimum(ratio, 1e3)
    for _ in range(3):  # x^8 by squaring (PATH_SHARPNESS), cheaper than np.power on a million plans
        x = x * x
    return x / (1.0 + x)


def slowest_rank_hits(local, share, ep, any_token, two_log_ep=None):
    """Experts the slowest of ``ep`` ranks reads: its ``local`` experts hit with probability ``share``
    each, the largest of ``ep`` such counts, ``mean + sqrt(2 ln(ep) var)`` (Gaussian extreme value,
    as ``planner.serving.roofline.moe_imbalance``), at least one expert once any token arrives
    (``any_token``: 1, or the fraction of a token), at most all ``local``. ``two_log_ep``: ``2 ln(max(ep, 1))``,
    when already known (computed once per EP size).

    E.g. 16 local experts, share 0.5, ep 8: ``8 + sqrt(2 ln 8 x 4) = 12.08``.
    """
    mean = local * share
    if two_log_ep is None:
        two_log_ep = 2.0 * np.log(np.maximum(ep, 1.0))
    spread = np.sqrt(two_log_ep * mean * (1.0 - share))
    return np.minimum(np.maximum(mean + spread, np.minimum(local, any_token)), local)


def _norm(a, b, p):
    """``(a^p + b^p)^(1/p)``, computed without overflow: between ``max(a, b)`` and ``a + b``.

    Where every row's larger term is finite and at least ``1e-30``, it is ``big`` itself: its ratio is exactly 1
    and ``1^p`` exactly 1, so only the smaller term's power is computed (the same figures).
    """
    top = np.maximum(a, b)
    if np.size(top) and top.min() >= 1e-30 and top.max() < np.inf:  # (then the floor leaves top as it is)
        if np.ndim(top) == 0:
            return top * np.power(1.0 + np.power(np.minimum(a, b) / top, p), 1.0 / p)
        out = np.minimum(a, b)  # big x (1 + (small / big)^p)^(1/p), each step in this one array
        out /= top
        power(out, p, out=out)
        out += 1.0
        power(out, 1.0 / p, out=out)
        out *= top
        return out
    big = np.maximum(top, 1e-30)
    return big * np.power(np.power(a / big, p) + np.power(b / big, p), 1.0 / p)


def for_modes(c: MoeCurve, mode_index: np.ndarray) -> dict:
    """``c``'s per-mode arrays and ``hit_at_cap`` at each row's mode index (the dict :func:`layer_s` reads;
    ``modes.at_modes``: scalars when every row has the same mode). ``hit_at_cap``: the share of experts hit at the
    cap at each mode's own sharpness, computed as for one row."""
    names = [k for k, v in c.__dict__.items() if isinstance(v, np.ndarray)]
    stack = stacked(c, lambda: np.stack([*(getattr(c, k) for k in names),
                                         [float(_hit_share(np.array([HIT_CAP]), s)[0]) for s in c.hit_sharpness]]))
    return dict(zip([*names, "hit_at_cap"], at_modes(stack, mode_index)))


def table() -> dict:
    """The fitted parameters: ``{engine: {gpu: {dtype: {param: value}}}}``."""
    return tables.read("moe")


def parameters(engine: str, gpu: str, dtype: str) -> tuple[dict | None, bool]:
    """(params, transferred) of one kernel dtype, as ``planner.engine.kernels.tables.pool`` picks
    them (the median of several); ``None`` when no GPU measured the dtype."""
    shared = _shared_kernel(engine, gpu, dtype)
    if shared is not None:
        return shared, False
    entries, measured = tables.pool(table(), engine, gpu, has=lambda entry: dtype in entry)
    return (tables.median([e[dtype] for e in entries], PARAMS) if entries else None), not measured


def _shared_kernel(engine: str, gpu: str, dtype: str) -> dict | None:
    """The parameters of the kernel ``engine`` runs for ``dtype`` on ``gpu`` (``SHARED_KERNELS``): another
    engine's, where ``engine`` has no entry of its own there and the other measured it; one of ``engine``'s
    own kernels, where it measured it."""
    other = SHARED_KERNELS.get((engine, dtype))
    if other is None or (other[0] != engine and dtype in table().get(engine, {}).get(gpu, {})):
        return None
    found = table().get(other[0], {}).get(gpu, {}).get("kernels", {}).get(dtype, {}).get(other[1])
    return None if found is None else {p: float(found[p]) for p in PARAMS}


def wide_parameters(engine: str, gpu: str, dtype: str) -> dict | None:
    """The parameters of ``engine``'s wide-EP kernel for ``dtype`` on ``gpu`` (``WIDE_EP`` entries: measured on
    that GPU, never transferred); ``None`` where none was measured."""
    found = table().get(engine, {}).get(gpu, {}).get(WIDE_EP, {}).get(dtype)
    return None if found is None else {p: float(found[p]) for p in PARAMS}


def mode_rows(c: MoeCurve, quant_index: np.ndarray, ep, moe_tp) -> np.ndarray:
    """Each row's index into ``c``'s arrays: its quantisation mode's, or where ``c`` has a wide-EP kernel
    (``c.wide_ep``) and the row splits whole experts over ranks (``ep > 1``, ``moe_tp`` 1), the same mode's
    among the wide-EP modes after them (module docstring)."""
    if not c.wide_ep:
        return quant_index
    return quant_index + len(quant.MODE_NAMES) * ((np.asarray(ep) > 1.0) & (np.asarray(moe_tp) <= 1.0))


def kernel_parameters(engine: str, gpu: str, dtype: str, kernel: str | None = None) -> dict | None:
    """The measured parameters of one kernel of ``engine`` on ``gpu`` for ``dtype`` (``kernel``, a
    ``moe_perf`` ``kernel_source``): those fitted to that kernel alone where the engine runs the
    dtype on several (``kernels.<dtype>.<kernel>`` in the TOML), else the dtype's own entry (the
    planner's curve, all its kernels); ``None`` when the engine has no entry for ``dtype`` on ``gpu``."""
    entry = table().get(engine, {}).get(gpu, {})
    if dtype not in entry:
        return None
    other = entry.get("kernels", {}).get(dtype, {}).get(kernel)
    return {p: float((other or entry[dtype])[p]) for p in PARAMS}


@cache
def _fractions(engine: str, gpu_name: str) -> tuple[dict, bool, bool]:
    """Per-mode parameter arrays of ``engine`` on ``gpu_name`` (``MODE_DTYPES``), whether any was
    transferred from the measured GPUs, and whether the engine has a wide-EP kernel there: then the arrays
    go on over the modes again, each mode's wide-EP parameters (of the first of its dtypes measured so) or,
    where none was, its own (:class:`MoeCurve`)."""
    fields = {p: [] for p in PARAMS}
    transferred = False
    wide = []
    for name in quant.MODE_NAMES:
        found = None
        for dtype in MODE_DTYPES[name]:
            params, moved = parameters(engine, gpu_name, dtype)
            if params is not None and (found is None or (found[1] and not moved)):
                found = (params, moved)
            if found is not None and not found[1]:
                break
        params, moved = found
        transferred |= moved
        for p in PARAMS:
            fields[p].append(params[p])
        wide.append(next(filter(None, (wide_parameters(engine, gpu_name, d) for d in MODE_DTYPES[name])), None))
    if any(wide):
        for own, params in enumerate(wide):
            for p in PARAMS:
                fields[p].append(fields[p][own] if params is None else params[p])
    return {p: np.array(v) for p, v in fields.items()}, transferred, any(wide)


def curve(engine: str, gpu, peak_flop_per_s: np.ndarray, hbm_bytes_per_s: float) -> MoeCurve:
    """The curve of ``engine`` on ``gpu`` (a catalogue GpuSpec): per mode, the dense datasheet peak of
    its dtype (``peak_flop_per_s``) and the achievable HBM bandwidth times the fitted fractions."""
    f, transferred, wide = _fractions(engine, gpu.name)
    peaks = np.tile(peak_flop_per_s, 2) if wide else peak_flop_per_s  # (the wide-EP modes: the same peaks)
    return MoeCurve(launch_s=units.from_us(f["launch_us"]), flop_per_s=peaks * f["compute_fraction"],
                    bytes_per_s=hbm_bytes_per_s * f["hbm_fraction"], pad_tokens=f["pad_tokens"],
                    thin_inter=f["thin_inter"], blend=f["blend"], hit_sharpness=f["hit_sharpness"],
                    permute_passes=f["permute_passes"], expert_s=units.from_us(f["expert_us"]),
                    path_s=units.from_us(f["path_us"]), path_pairs=f["path_pairs"], skew=f["skew"],
                    transferred=transferred, wide_ep=wide)
