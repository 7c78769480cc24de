"""Decode-step roofline: compute, HBM, communication and offload time of one pipeline stage.

All functions are pure and vectorised over candidate rows (numpy arrays of equal length).
Quantities are per GPU for one *micro-batch* passing one *pipeline stage*; with ``pp``
stages the batch is split into ``pp`` micro-batches of ``T = batch / pp`` sequences that
flow through the stages back to back, so one decode step (every sequence gains a token)
takes ``pp`` stage times and each stage is busy all the time.

Modelling assumptions (each a named term below):

* Layers: the slowest stage carries ``ceil(L / pp)`` layers with the model's MoE/dense mix;
  the embedding and output projection are spread evenly over the stages.
* Linear FLOPs per token are ``2 x active parameters`` (seed Note 2), split over the GPUs
  that hold each block: attention and dense FFN over ``tp`` (replicated over ``dp``), routed
  experts over the ``tp * dp`` GPUs of the stage.
* Weight precision by block (``planner.serving.layout``): each block's GEMMs run at the rate of
  its own precision.
* Expected distinct experts (:func:`experts_hit_fraction`): a micro-batch of ``T`` tokens
  makes ``T k`` top-``k`` choices; taken as independent and uniform over the ``E`` routed
  experts, each expert is missed by all of them with probability ``(1 - k/E)^T``, so the
  weights read per step are ``E (1 - (1 - k/E)^T)`` experts' worth (all of them once
  ``T k >> E``; about ``T k`` at small batch). Real routers are skewed, which hits fewer
  experts; the uniform draw is the conservative (more bytes) choice.
* EP load imbalance (:func:`moe_imbalance`): the tokens arriving at each of ``ep`` ranks are
  approximately Poisson with mean ``mu = T k / ep``; every rank waits for the slowest, and
  the expected maximum of ``ep`` such counts is about ``mu + sqrt(2 mu ln ep)`` (Gaussian
  extreme-value approximation), so routed-expert compute (decode and prefill alike) is scaled
  by ``1 + sqrt(2 ln(ep) / mu)``, at most ``ep``; it tends to 1 as the micro-batch grows,
  and is exactly 1 without EP. Weight reads are not scaled (each rank streams its own
  experts once whatever its load).
* Routed experts (:func:`moe_s`): on GPUs with the MoE-layer kernel curve
  (``planner.engine.kernels.moe``, fitted to measured MoE layers) the routed experts' FLOPs and
  weight bytes leave the compute and HBM terms; the curve's time is its own term, added to the
  stage after the overlap blend (one stream runs the kernels one after another), and its fused
  expert kernels (``CURVE_MOE_KERNELS``) leave the per-kernel launch count. Under the seed preset
  (no curve) the uniform-routing terms below stay.
* KV cache: each attention group reads its own sequences' cache; GQA heads are split over
  ``min(tp, kv_heads)``, MLA's latent is held whole by every TP rank. The offloaded fraction
  is streamed from host memory over the host link every step (PCIe, or NVLink-C2C on Grace).
* Fixed costs (:func:`launch_overhead_s`): every kernel of the stage's layers costs the
  engine's ``per_kernel_overhead_s`` (launch gap and minimum kernel duration under CUDA
  graphs), with kernels counted from the architecture (``planner.serving.shape.kernels_per_layer``),
  plus any ``per_layer_overhead_s`` per layer. A kernel a curve times is charged there only: its
  fitted floor is the measured kernel's launch and least duration (the dense GEMMs, the MoE
  curve's ``CURVE_MOE_KERNELS``, the attention core's ``CURVE_ATTENTION_KERNELS``). An iteration
  that carries prompt tokens runs outside the engine's CUDA graphs (:func:`eager_iteration_s`): its
  host launches every kernel of the stage, at the engine's ``eager_kernel_overhead_s`` each, added
  to its GPU time.
* Activations: about ``ACTIVATION_PASSES_PER_LAYER`` reads/writes of a hidden vector per
  token per layer (norms, residuals, projections' inputs and outputs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from planner import quant
from planner.engine.activations import ACTIVATION_BYTES
from planner.engine.kernels import moe
from planner.engine.kernels.attention import QUERY_TILE
from planner.engine.kernels.gemm import FP8_BLOCK_ROW, Dims, GemmShapes, ModeRows, Modes
from planner.engine.kernels.gemm import modes as gemm_modes
from planner.engine.rates import Rates
from planner.serving.distinct import table_values, whole_index
from planner.serving.layout import Layout
from planner.serving.shape import ModelShape
from specbase.record import record

if TYPE_CHECKING:
    from planner.serving.fixed_point import BlockGemms

# Hidden-vector reads+writes per token per layer: ~4 norms/residual adds x (read + write).
ACTIVATION_PASSES_PER_LAYER = 8.0
# Kernels of a routed MoE layer the curve's measured time already contains: permute/dispatch, grouped
# gate-up GEMM, activation, grouped down GEMM, finalize (planner.serving.shape.ROUTED_MOE_KERNELS keeps
# norm, router GEMM and top-k outside).
CURVE_MOE_KERNELS = 5
# Kernels of a layer's attention block the attention curve times (its per-call floor): the attention
# core (FlashAttention/FlashInfer decode, or MLA's), one per layer.
CURVE_ATTENTION_KERNELS = 1
def moe_imbalance(micro_tokens: np.ndarray, top_k: int, ep: np.ndarray,
                  two_log_ep: np.ndarray | None = None) -> np.ndarray:
    """Slowest-rank / mean-rank expert load for ``ep`` ranks (1 where ``ep == 1``).

    ``1 + sqrt(2 ln(ep) / mu)`` with ``mu = micro_tokens * top_k / ep`` token-expert pairs per
    rank (Poisson arrivals, Gaussian approximation of the maximum of ``ep`` counts), capped
    at ``ep`` (one rank takes everything). E.g. ``ep = 8``, 64 tokens, top-8: ``mu = 64``,
    ratio ``1 + sqrt(2 ln 8 / 64) = 1.255``. ``two_log_ep``: ``2 ln(ep)`` per row (every ep >= 1), when known.
    """
    mu = np.maximum(micro_tokens * top_k / ep, 1e-9)
    if two_log_ep is not None:  # (ep >= 1: the cap is ep itself)
        return np.minimum(1.0 + np.sqrt(two_log_ep / mu), ep)
    ratio = 1.0 + np.sqrt(2.0 * np.log(ep) / mu)
    return np.minimum(ratio, np.maximum(ep, 1.0))


def ep_logs(ep: np.ndarray, whole: bool = False) -> np.ndarray | None:
    """``2 ln(ep)`` per row, once per EP size where they are few whole numbers (``distinct.whole_index``); else None."""
    index = whole_index(ep, whole)
    return None if index is None else np.take(2.0 * np.log(np.maximum(table_values(index), 1.0)), index)


def experts_hit_fraction(tokens: np.ndarray, top_k: int, num_experts: int) -> np.ndarray:
    """Expected share of routed experts hit at least once by ``tokens`` tokens choosing top-k.

    ``1 - (1 - k/E)^tokens`` (uniform, independent choices). E.g. gpt-oss-120b (``E = 128``,
    ``k = 4``) at 4 tokens: ``1 - (124/128)^4 = 0.119``, about 15 of the 128 experts.
    """
    miss = 1.0 - top_k / num_experts
    return 1.0 - np.power(miss, tokens)


def compute_s(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray) -> np.ndarray:
    """Compute time of one micro-batch on one stage, per GPU, in seconds.

    With a GEMM curve (``r.gemm``) the dense-block GEMMs are :func:`gemm_s`'s, not here.
    """
    # (a term a curve times is left out, not added as zeros: adding 0.0 changes no sum)
    t = np.zeros_like(lay.tp)
    if r.gemm is None:
        per_group = lay.group_tokens / lay.tp
        block_flop = 2.0 * per_group * (
            shape.attention_params * lay.stage_layers
            + shape.dense_ffn_params * lay.dense_layers
            + shape.shared_params * lay.moe_layers
        )
        vocab_flop = 2.0 * per_group * (shape.embedding_params + shape.lm_head_params) / lay.pp
        t = block_flop / np.take(r.decode_flop_per_s, lay.dense_quant) \
            + vocab_flop / np.take(r.decode_flop_per_s, lay.vocab_quant)
    if shape.num_moe_layers and r.moe_curve is None:
        imbalance = moe_imbalance(lay.micro_tokens, shape.top_k, lay.ep)
        routed_flop = (2.0 * shape.expert_params * shape.top_k * lay.micro_tokens / lay.stage_gpus
                       * lay.moe_layers * imbalance)
        t = t + routed_flop / (np.take(r.decode_flop_per_s, quant_index) * r.moe_scale)
    if r.attention_kernels is not None:  # attention is its own term, attention_s
        return t
    return t + attention_flops(shape, lay) / r.attention_flop_per_s


def attention_flops(shape: ModelShape, lay: Layout) -> np.ndarray:
    """Decode attention FLOPs (scores and values) one GPU does for one micro-batch on one stage."""
    return shape.attention_flop_per_token / shape.num_layers * lay.stage_layers * (lay.group_tokens / lay.tp)


def attention_s(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """Decode attention kernels of one micro-batch on one stage, per GPU (``planner.engine.kernels.attention``).

    One call per layer over ``group_tokens x kv_heads / kv_split`` work units (MLA: ``group_tokens``,
    the latent is shared by the heads; a KV cache of at most one byte per element takes the kind's
    ``_fp8`` curve), reading the on-GPU share of the KV cache (the offloaded
    share stays in :func:`offload_s`) and doing :func:`attention_flops`. Zero under the seed
    preset (``r.attention_kernels is None``), whose attention stays in :func:`compute_s` and :func:`hbm_s`.
    """
    k = r.attention_kernels
    if k is None:
        return np.zeros_like(lay.tp)
    if shape.is_mla:
        kind, units = "mla_decode", lay.group_tokens
    else:
        kind, units = "decode", lay.group_tokens * shape.kv_heads / lay.kv_split
    return k.time_s(kind, lay.stage_layers, units, kv_read_bytes(shape, lay) * (1.0 - lay.offload),
                    attention_flops(shape, lay), kv_fp8=lay.kv_bytes <= 1.0)


def prompt_attention_s(shape: ModelShape, lay: Layout, r: Rates, group_tokens: np.ndarray, stage_tokens: np.ndarray,
                       chunk_tokens: np.ndarray, attention_flop: np.ndarray,
                       share: np.ndarray | None = None, share_floor: np.ndarray | None = None) -> np.ndarray:
    """Prefill attention kernels of an iteration's prompt work on one stage, per GPU.

    One call per layer in the share of steps that carry a chunk (``stage_tokens / chunk_tokens``,
    at most 1), each over the chunk's ``group_tokens / share x heads / tp / 128`` query tiles, doing
    the group's causal FLOPs (``attention_flop``, all layers, MLA un-absorbed;
    ``planner.serving.aggregated.PromptWork``): the average step pays ``share`` of a chunk's call
    floors, and the time tends to 0 with the prompt work. Zero under the seed preset. ``share``: that share,
    when already computed; ``share_floor``: ``max(share, 1e-12)``, likewise.
    """
    k = r.attention_kernels
    if k is None:
        return np.zeros_like(lay.tp)
    flops = attention_flop / shape.num_layers * lay.stage_layers / lay.tp
    share = np.minimum(stage_tokens / chunk_tokens, 1.0) if share is None else share
    share_floor = np.maximum(share, 1e-12) if share_floor is None else share_floor
    units = group_tokens / share_floor * shape.attention_heads / lay.tp / QUERY_TILE
    calls = lay.stage_layers * share
    return k.time_s("mla_prefill" if shape.is_mla else "prefill", calls, units, 0.0, flops)


def dense_read_bytes(shape: ModelShape, lay: Layout) -> np.ndarray:
    """Non-expert weight bytes (attention, dense FFN, shared experts, LM head) one GPU reads per micro-batch."""
    block = (shape.attention_params * lay.stage_layers + shape.dense_ffn_params * lay.dense_layers
             + shape.shared_params * lay.moe_layers) / lay.tp
    return block * lay.dense_weight_bytes + shape.vocab_params / lay.pp / lay.tp * lay.vocab_weight_bytes


def routed_read_bytes(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """Routed-expert weight bytes one GPU reads per micro-batch: its experts hit at least once
    (none where the MoE curve times the experts: :func:`moe_s`)."""
    if not shape.num_moe_layers or r.moe_curve is not None:
        return np.zeros_like(lay.tp)
    hit = experts_hit_fraction(lay.micro_tokens, shape.top_k, shape.num_experts)
    return shape.num_experts / lay.ep * hit * shape.expert_params / lay.moe_tp * lay.moe_layers * lay.weight_bytes


def curve_read_bytes(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """Bytes one GPU streams per micro-batch inside the kernel curves, which :func:`hbm_s` leaves out:
    dense-block weights on the GEMM curve, the on-GPU KV read on the attention curves (zero under the
    seed preset, whose HBM term streams them all). Routed experts on the MoE curve are not counted:
    how many distinct experts a batch reads is the curve's fitted routing, which hits fewer than the
    uniform draw, so counting the uniform draw's bytes would put the HBM bound below the prediction."""
    out = np.zeros_like(lay.tp)
    if r.gemm is not None:
        out = out + dense_read_bytes(shape, lay)
    if r.attention_kernels is not None:
        out = out + kv_read_bytes(shape, lay) * (1.0 - lay.offload)
    return out


def kv_read_bytes(shape: ModelShape, lay: Layout) -> np.ndarray:
    """KV-cache bytes one GPU's attention reads for one micro-batch (HBM plus offloaded)."""
    per_seq = shape.kv_read_sequence_elements / shape.num_layers * lay.stage_layers
    return lay.group_tokens * per_seq * lay.kv_bytes / lay.kv_split


def gemm_s(shape: ModelShape, lay: Layout, r: Rates, tokens: np.ndarray, head_tokens: np.ndarray,
           setup: GemmSetup | None = None, known: BlockGemms | None = None) -> np.ndarray:
    """Time of the stage's dense-block GEMMs on the GEMM curve, per GPU (zero without a curve).

    Every GEMM of ``shape.dense_gemms`` runs once per layer of its block (the LM head once per
    model, ``1 / pp`` of it per stage as the roofline spreads it) with ``m = tokens`` rows (the
    attention group's tokens) and ``head_tokens`` rows for the LM head; ``n`` or ``k`` split over
    ``tp`` as the GEMM is column- or row-parallel. Weights, activations and launch floor are all in
    the curve (``planner.engine.kernels.gemm.gemm_time_s``). ``setup``: :func:`gemm_setup` of the same
    rows, when already computed (the same figures). ``known``: :func:`block_gemm_s` of these rows at some
    row counts (``planner.serving.fixed_point.BlockGemms``, with the stacked ``setup``): rows at those
    counts take its time instead of computing it again (the same arithmetic on the same inputs).
    """
    if r.gemm is None:
        return np.zeros_like(lay.tp)
    s = gemm_setup(shape, lay, r, stack=False) if setup is None else setup
    layers = (lay.stage_layers, lay.dense_layers, lay.moe_layers)
    total = block_gemm_s(shape, s, tokens, layers) if known is None else known.at(shape, s, tokens, layers)
    return total + s.head_gemms.sum_s(s.head.at(head_tokens)) / lay.pp


def block_gemm_s(shape: ModelShape, s: GemmSetup, tokens: np.ndarray, layers: tuple) -> np.ndarray:
    """:func:`gemm_s` less the LM head: the attention, dense-FFN and shared-expert GEMMs of ``tokens`` rows over the
    stage's ``layers`` (its stage, dense and MoE layers)."""
    block = s.block.at(tokens)
    total = layers[0] * s.attention.sum_s(block)
    if shape.num_moe_layers < shape.num_layers:  # dense-FFN layers
        total += layers[1] * s.dense.sum_s(block)
    if shape.num_moe_layers and len(s.shared):
        total += layers[2] * s.shared.sum_s(block)
    return total


@record
class GemmSetup:
    """What :func:`gemm_s` computes whatever the GEMMs' rows: each block's per-row curve constants and GEMM
    shapes (the serving fixed point's rounds change only the rows, ``planner.serving.fixed_point``)."""

    block: ModeRows | Modes
    head: ModeRows | Modes
    attention: GemmShapes | Dims
    dense: GemmShapes | Dims
    shared: GemmShapes | Dims
    head_gemms: GemmShapes | Dims


def gemm_rows(shape: ModelShape, dense_quant: np.ndarray) -> np.ndarray:
    """The GEMM curve's rows of the blocks' weights: their modes, but FP8 weights of a model released with block
    scales on the block-scaled kernel's row (``planner.engine.kernels.gemm.FP8_BLOCK_ROW``); the same array where
    there are none."""
    if not shape.block_scaled_fp8:
        return dense_quant
    fp8 = dense_quant == quant.mode_index("fp8")
    return np.where(fp8, FP8_BLOCK_ROW, dense_quant) if fp8.any() else dense_quant


def gemm_setup(shape: ModelShape, lay: Layout, r: Rates, stack: bool = True) -> GemmSetup | None:
    """:class:`GemmSetup` of ``lay``'s rows on ``r``'s GEMM curve (None without one). ``stack=False`` keeps
    each block's GEMMs as ``(n, k, split)`` (``planner.engine.kernels.gemm.Dims``) and its modes unpicked,
    cheaper for one use (fewer arrays alive at once); ``take_rows`` subsets only the stacked ones."""
    if r.gemm is None:
        return None
    inv_tp = 1.0 / lay.tp
    dense = gemm_rows(shape, lay.dense_quant)
    block, head = ((gemm_modes(r.gemm, dense), None) if stack
                   else (Modes(r.gemm, dense), Modes(r.gemm, lay.vocab_quant)))
    if head is None:  # the LM head's modes are the blocks' unless pinned (the same array): their constants once
        head = block if lay.vocab_quant is dense else gemm_modes(r.gemm, lay.vocab_quant)

    # a block :func:`gemm_s` does not time (dense FFN without dense layers, the router without MoE layers) is
    # left empty: nothing computed for it, nor carried through the fixed point's rounds
    timed = {"dense": shape.num_moe_layers < shape.num_layers, "shared": bool(shape.num_moe_layers)}

    def of(name: str, c: ModeRows | Modes) -> GemmShapes | Dims:
        dims = [(g.n, g.k, g.split) for g in shape.dense_gemms if g.block == name and timed.get(name, True)]
        return GemmShapes.of(c, dims, inv_tp) if stack else Dims(dims, inv_tp)
    return GemmSetup(block, head, of("attention", block), of("dense", block), of("shared", block), of("head", head))


def hbm_s(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """HBM time: weights, new KV written, activations, and the on-GPU share of KV read.

    Kernel curves take their own bytes: the dense-block weights are read in :func:`gemm_s` (``r.gemm``),
    the routed experts' in the MoE curve (``r.moe_curve``), the KV read in the attention curves
    (``r.attention_kernels``); the seed preset keeps them all here.
    """
    kv_write = lay.group_tokens * shape.kv_new_token_elements / shape.num_layers * lay.stage_layers \
        * lay.kv_bytes / lay.kv_split
    activations = lay.group_tokens * shape.hidden_size * ACTIVATION_BYTES * ACTIVATION_PASSES_PER_LAYER \
        * lay.stage_layers
    # Grouped expert GEMMs stream their weights at the engine's MoE efficiency.
    dense = dense_read_bytes(shape, lay) if r.gemm is None else 0.0
    # With attention curves the KV read is attention_s's (0.0 keeps the seed preset's sum exact).
    kv_read = kv_read_bytes(shape, lay) * (1.0 - lay.offload) if r.attention_kernels is None else 0.0
    total = dense + routed_read_bytes(shape, lay, r) / r.moe_scale + kv_read + kv_write + activations
    return total / r.hbm_bytes_per_s


def moe_s(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Routed-expert time of the stage's MoE layers for ``tokens`` tokens per micro-batch (seconds).

    The kernel curve (``planner.engine.kernels.moe.layer_s``; the engine's wide-EP kernel's where it runs one for
    the row, ``moe.mode_rows``) of one layer with the experts split
    ``ep`` ways and each expert ``moe_tp`` ways, the EP imbalance of ``tokens``
    (:func:`moe_imbalance`) on the slowest rank, times the stage's MoE layers; zero without a
    curve (seed preset) or without MoE layers. The expert width is ``expert_params / (3 hidden)``
    (gated experts; a plain MLP's two matrices give the same bytes and FLOPs).
    """
    if not shape.num_moe_layers or r.moe_curve is None:
        return np.zeros_like(lay.tp)
    inter = shape.expert_params / (moe.GATED_MATRICES * shape.hidden_size)
    two_log_ep = ep_logs(lay.ep, lay.whole_sizes)
    layer = moe.layer_s(tokens, shape.hidden_size, inter, shape.top_k, shape.num_experts, lay.moe_tp, lay.ep,
                        lay.weight_bytes, moe.for_modes(r.moe_curve, moe.mode_rows(r.moe_curve, quant_index, lay.ep,
                                                                                    lay.moe_tp)),
                        imbalance=moe_imbalance(tokens, shape.top_k, lay.ep, two_log_ep), two_log_ep=two_log_ep)
    return layer * lay.moe_layers


def moe_s_at(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, tokens: list) -> list:
    """:func:`moe_s` at each of several token counts per row (``tokens``: arrays over rows), in one pass of the
    curve over them stacked: its per-layout parts (the mode's parameters, the expert shard, the imbalance's and
    the slowest rank's logarithms) are computed once for all of them, each element as one call would."""
    if not shape.num_moe_layers or r.moe_curve is None:
        return [np.zeros_like(lay.tp) for _ in tokens]
    return list(moe_s(shape, lay, r, quant_index, np.stack(tokens)))


def chunked_moe_s(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, chunk_tokens: np.ndarray,
                  chunks_per_step: np.ndarray, decode_moe: np.ndarray | None = None,
                  with_chunk_moe: np.ndarray | None = None) -> np.ndarray:
    """Routed-expert time of an average step that takes ``chunks_per_step`` prompt chunks (seconds).

    A step that takes a chunk runs the MoE layers on its decode and chunk tokens together
    (:func:`moe_s` of ``micro_tokens + chunk_tokens``, or ``with_chunk_moe`` when already known), one
    without runs them on the decode tokens (``decode_moe``); the difference is charged per step by
    the share of steps that take a chunk. Without a curve: ``decode_moe`` (zeros).
    """
    base = moe_s(shape, lay, r, quant_index, lay.micro_tokens) if decode_moe is None else decode_moe
    if r.moe_curve is None or not shape.num_moe_layers:
        return base
    if with_chunk_moe is None:
        with_chunk_moe = moe_s(shape, lay, r, quant_index, lay.micro_tokens + chunk_tokens)
    return base + (with_chunk_moe - base) * chunks_per_step


def offload_s(shape: ModelShape, lay: Layout, r: Rates) -> np.ndarray:
    """Host-link time to stream the offloaded share of the KV cache for one micro-batch."""
    return kv_read_bytes(shape, lay) * lay.offload / r.host_bytes_per_s


def stage_kernels(shape: ModelShape, lay: Layout, gemm_curve: bool = False) -> np.ndarray:
    """Kernels one micro-batch launches on one stage: attention in every layer, dense or MoE FFN.

    With ``gemm_curve`` the dense-block GEMMs are left out: the GEMM curve charges each its own
    launch floor. E.g. gpt-oss-120b at ``pp = 1``: 36 layers x (5 + 8) = 468 kernels; on the GEMM
    curve 36 x ((5 - 2) + (8 - 1)) = 360 (QKV and O; the router).
    """
    attention, dense, moe = shape.attention_kernels, shape.dense_ffn_kernels, shape.moe_ffn_kernels
    if gemm_curve:
        blocks = [g.block for g in shape.dense_gemms]
        attention, dense, moe = (attention - blocks.count("attention"), dense - blocks.count("dense"),
                                 moe - blocks.count("shared"))
    return attention * lay.stage_layers + dense * lay.dense_layers + moe * lay.moe_layers


def launch_overhead_s(shape: ModelShape, lay: Layout, per_layer_overhead_s: float,
                      per_kernel_overhead_s: float, r: Rates | None = None) -> np.ndarray:
    """Fixed per-stage cost of one micro-batch: per kernel and per layer overheads (seconds).

    Kernels a curve of ``r`` already times are not counted again: the dense-block GEMMs on the GEMM
    curve (:func:`stage_kernels`), the fused expert kernels on the MoE curve (``CURVE_MOE_KERNELS``),
    the attention core on the attention curves (``CURVE_ATTENTION_KERNELS``).
    """
    kernels = stage_kernels(shape, lay, gemm_curve=r is not None and r.gemm is not None)
    if r is not None and r.moe_curve is not None and shape.num_moe_layers:
        kernels = kernels - CURVE_MOE_KERNELS * lay.moe_layers
    if r is not None and r.attention_kernels is not None:
        kernels = kernels - CURVE_ATTENTION_KERNELS * lay.stage_layers
    return per_kernel_overhead_s * kernels + per_layer_overhead_s * lay.stage_layers


def eager_iteration_s(shape: ModelShape, lay: Layout, eager_kernel_overhead_s: float,
                      stage_time_s: np.ndarray) -> np.ndarray:
    """Stage time of an iteration that carries prompt tokens, of GPU time ``stage_time_s``: outside the engine's
    CUDA graphs its host launches every kernel of the stage (:func:`stage_kernels`, the curves' kernels
    included: none is replayed from a graph) at ``eager_kernel_overhead_s`` each, and those launches add to the
    GPU time: most of a layer's kernels (norms, activations, routing, rotary, residuals) run shorter than their
    launch, so the GPU waits on the host for them, and runs the large GEMMs, attention and expert kernels while
    the host queues the next. E.g. DeepSeek-V3 at ``pp = 1``: 61 layers x 9 attention kernels + 3 dense FFNs x 4
    + 58 MoE FFNs x 11 = 1,199 kernels, at 10 us each 12.0 ms beside a chunk's 30 ms on the GPU: 42.0 ms.
    ``stage_time_s`` itself where the knob is 0 (the seed preset, the neutral profile)."""
    if not eager_kernel_overhead_s:
        return stage_time_s
    return stage_time_s + eager_kernel_overhead_s * stage_kernels(shape, lay)


def combine(terms: list[np.ndarray], overlap_fraction: float) -> np.ndarray:
    """Blend of the terms: ``overlap * max + (1 - overlap) * sum``.

    ``overlap_fraction = 1`` assumes compute, HBM traffic, communication and offload
    overlap perfectly (pure roofline); ``0`` assumes they run one after another.
    """
    largest, total = terms[0], terms[0]
    for term in terms[1:]:  # pairwise, not np.vstack: no (terms x rows) copy
        largest = np.maximum(largest, term)
        total = total + term
    return overlap_fraction * largest + (1.0 - overlap_fraction) * total
