"""The measured-kernel floor of a measured row's average step: its own kernels, one after another, each at the
fastest time the kernel tables measured for it.

Within one layer of a dense model every kernel needs the previous one's output: the QKV GEMM feeds attention,
attention the O GEMM, the O GEMM its tensor-parallel all-reduce, the all-reduce the gate-up GEMM, the gate-up the
down GEMM and the down GEMM its all-reduce, which the next layer's QKV GEMM waits for (none of the engines splits a
dense model's batch into overlapping micro-batches by default). So an average step of a row (the running decode
batch plus the prompt tokens Little's law gives from the row's own TTFT and TPOT,
``planner.serving.prompt_work.prompt_tokens_per_step``) takes at least the sum of:

* every dense GEMM (``planner.serving.gemms.dense_gemms``, its ``tp`` split) of every layer and the LM head, at the
  fastest latency any engine's ``gemm_perf`` row measured on the GPU in the row's compute dtype for that shape
  or a smaller one (``m``, ``n`` and ``k`` each no larger: a GEMM takes no less time than a smaller one took);
* two all-reduces a layer where ``tp > 1``, at the fastest latency any ``custom_allreduce_perf`` or ``nccl_perf``
  row (16-bit) measured over ``tp`` GPUs for that message or a smaller one;
* the decode batch's KV cache read at the nominal HBM bandwidth at the prompt's length (one byte an element where
  the row does not say) and the prompts' causal attention FLOPs at the dense peak
  (``planner.calibration.screen.physical_floor``'s terms).

The average step's GEMMs are taken at the average tokens per step: GEMM latency is flat and then linear in
``m``, so the average of the steps with and without a prompt chunk is no shorter (within one tile of rows).
A row whose TPOT is below this floor measured work other than it describes (e.g. prompts served from a prefix
cache): its own kernels cannot run that fast. Applied to dense models with ``pp = 1`` only (a MoE layer's
routed experts are a curve of their routing, not one shape; pipeline stages overlap micro-batches); other rows
return None, as do GPUs without kernel tables. Reading the tables needs pyarrow (the ``calibrate`` extra).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from hardware.specs import Hardware
from models.spec import ModelSpec
from planner import quant
from planner.calibration import kernels
from planner.calibration.measurements import Measurement
from planner.engine.kernels.gemm import DTYPE_PEAK
from planner.serving.gemms import dense_gemms
from planner.serving.prompt_work import prompt_tokens_per_step

# Kernel dtypes (gemm_perf's gemm_dtype) a compute dtype's GEMMs may run in, the faster counting: those whose
# datasheet peak is that dtype's (the GEMM curve's DTYPE_PEAK; bf16: bfloat16, fp8: fp8 and fp8_block, fp4: nvfp4).
GEMM_DTYPES = {peak: tuple(t for t, p in DTYPE_PEAK.items() if p == peak) for peak in set(DTYPE_PEAK.values())}
ALLREDUCE_DTYPES = ("bfloat16", "half")  # the engines all-reduce 16-bit activations
TABLE_SYSTEMS = {gpu: system for system, gpu in kernels.SYSTEM_GPUS.items()}  # catalogue GPU -> table system
ALL_REDUCES_PER_LAYER = 2  # after attention's O GEMM and after the MLP's down GEMM


@cache
def _gemms(system: str, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(m, n, k, seconds) of every GEMM shape measured on ``system`` in ``dtype``'s kernel dtypes, fastest of all
    engines and kernels per shape."""
    frames = kernels.load("gemm_perf", system, columns=["gemm_dtype", "m", "n", "k"])
    keep = [np.isin(f["gemm_dtype"], GEMM_DTYPES[dtype]) for f in frames]
    m, n, k, t = (np.concatenate([np.asarray(f[c], dtype=float)[w] for f, w in zip(frames, keep)])
                  for c in ("m", "n", "k", "latency_s"))
    if not t.size:
        return m, n, k, t
    order = np.lexsort((t, k, n, m))  # by shape, fastest first
    m, n, k, t = m[order], n[order], k[order], t[order]
    first = np.ones(t.size, dtype=bool)
    first[1:] = (m[1:] != m[:-1]) | (n[1:] != n[:-1]) | (k[1:] != k[:-1])
    return m[first], n[first], k[first], t[first]


@cache
def _allreduces(system: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """GPU count -> (message elements, seconds) of 16-bit all-reduces measured on ``system``, fastest of every
    engine's own kernel and NCCL per message, each time the slowest of its own and every smaller message's
    (a message takes no less time than a smaller one took)."""
    best: dict[tuple[int, float], float] = {}
    for table, dtype_column in (("custom_allreduce_perf", "allreduce_dtype"), ("nccl_perf", "nccl_dtype")):
        for f in kernels.load(table, system):
            keep = np.isin(f[dtype_column], ALLREDUCE_DTYPES)
            if "op_name" in f:
                keep &= f["op_name"] == "all_reduce"
            for n, size, t in zip(f["num_gpus"][keep], f["message_size"][keep], f["latency_s"][keep]):
                key = (int(n), float(size))
                best[key] = min(t, best.get(key, np.inf))
    out = {}
    for gpus in {n for n, _ in best}:
        sizes = np.array(sorted(s for n, s in best if n == gpus))
        out[gpus] = sizes, np.maximum.accumulate(np.array([best[(gpus, s)] for s in sizes]))
    return out


def gemm_s(system: str, dtype: str, m: float, n: float, k: float) -> float:
    """The floor of one ``m x k`` by ``k x n`` GEMM: the slowest fastest-measured time among shapes no larger in
    ``m``, ``n`` and ``k`` (0 where none was measured)."""
    ms, ns, ks, t = _gemms(system, dtype)
    smaller = (ms <= m) & (ns <= n) & (ks <= k)
    return float(t[smaller].max()) if smaller.any() else 0.0


def allreduce_s(system: str, gpus: int, elements: float) -> float:
    """The floor of one all-reduce of ``elements`` 16-bit values over ``gpus`` GPUs (0 where none was measured)."""
    sizes, t = _allreduces(system).get(gpus, (np.empty(0), np.empty(0)))
    i = int(np.searchsorted(sizes, elements, side="right")) - 1
    return float(t[i]) if i >= 0 else 0.0


def step_floor_s(m: Measurement, spec: ModelSpec, hw: Hardware, running: float, kv_read_s: float,
                 prompt_attention_s: float) -> float | None:
    """The measured-kernel floor of row ``m``'s average step (module docstring), or None where it does not apply.

    ``running``: the sequences decoding each step; ``kv_read_s``: their KV cache read per GPU at the nominal
    bandwidth; ``prompt_attention_s``: one prompt's causal attention per GPU at the dense peak (the three from
    ``planner.calibration.screen.physical_floor``, whose ``kernel_chain_s`` passes them).
    """
    system = TABLE_SYSTEMS.get(hw.gpu.name)
    dtype = quant.mode(m.quant).compute_dtype
    if spec.moe is not None or m.pp != 1 or system is None or dtype not in GEMM_DTYPES \
            or m.tpot_s is None or m.ttft_s is None:
        return None
    prompts = float(prompt_tokens_per_step(running, 1, m.osl, m.tpot_s, m.ttft_s))  # a step's, by Little's law
    tokens = (running + prompts * m.isl) / m.dp  # rows of each attention group's GEMMs
    head_tokens = (running + prompts) / m.dp  # the LM head: decode tokens and each prompt's last token
    layers = spec.num_hidden_layers
    total = 0.0
    for g in dense_gemms(spec):
        n = g.n / m.tp if g.split == "n" else g.n
        k = g.k / m.tp if g.split == "k" else g.k
        total += gemm_s(system, dtype, head_tokens, n, k) if g.block == "head" \
            else layers * gemm_s(system, dtype, tokens, n, k)
    if m.tp > 1:
        total += ALL_REDUCES_PER_LAYER * layers * allreduce_s(system, m.tp, tokens * spec.hidden_size)
    return total + kv_read_s + prompts * prompt_attention_s
