"""Training memory per GPU: model states after ZeRO sharding, activations, working buffers.

Model states (Rajbhandari et al. 2020, arXiv 1910.02054, section 5 and Figure 1), for ``P``
parameters on a GPU whose data-parallel group has ``N`` members, with ``w``, ``g``, ``o``
bytes per parameter of weights, gradients and optimiser state (2, 2, 12 for Adam):

* stage 0: ``(w + g + o) P``                 (16 P)
* stage 1: ``(w + g) P + o P / N``           (4 P + 12 P / N)
* stage 2: ``w P + (g + o) P / N``           (2 P + 14 P / N)
* stage 3: ``(w + g + o) P / N``             (16 P / N)

Dense weights are sharded over the ``dp * cp`` GPUs that hold the same slice; a routed
expert over the ``tp * cp * dp / ep`` GPUs holding a copy of it (``planner.training.parallel``).

Activations stored per layer for the backward pass (Korthikanti et al. 2022, "Reducing
Activation Recomputation in Large Transformer Models", arXiv 2205.05198, section 4): for a GPT
layer in 16-bit with dropout, ``s b h (34 + 5 a s / h)`` bytes (sequence ``s``, micro-batch
``b``, hidden ``h``, heads ``a``). `layer_activation_bytes` derives that sum term by term, so it
also covers SwiGLU MLPs, grouped-query attention, MoE layers and models trained without dropout
(modern LLMs). Tensor parallelism with sequence parallelism divides every term by ``tp``
(their Table 2), context parallelism the sequence by ``cp``. Selective recomputation drops the
``5 a s / h`` score term and the norm and MLP-activation outputs (rebuilt from their kept
inputs); full recomputation keeps only each layer's 2-byte input (``2 s b h``) plus one layer's
working set while it is recomputed. With 1F1B pipelining the first stage
holds ``pp`` micro-batches in flight, times ``1 + (pp - 1) / (pp * vpp)`` when interleaved
(their section 4.2.3).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES, LOGIT_BYTES
from planner.serving.memory import HbmParts
from planner.training.shape import TrainingShape
from planner.training.workload import OptimiserSpec
from specbase.record import record

DROPOUT_MASK_BYTES = 1.0  # one byte per element (Korthikanti section 4.1)
# fp32 router probabilities per token and expert: Megatron-Core keeps the router in fp32 (`--moe-router-dtype
# fp32`); DeepSeek-V3 keeps its gating modules in their original precision (arXiv 2412.19437 section 3.3.1).
ROUTER_PROB_BYTES = 4.0
# DeepSeek-V3's cached activations (arXiv 2412.19437 section 3.3.3, "Low-Precision Activation"): the
# MoE SwiGLU inputs in FP8 with fine-grained quantisation (1 byte), the attention output (input of the
# output projection) in the custom E5M6 format (1 sign + 5 exponent + 6 mantissa bits = 1.5 bytes).
FP8_CACHE_BYTES = 1.0
E5M6_BYTES = 12.0 / 8.0
# ZeRO-3 / FSDP gathers a layer's weights just before use and prefetches the next one:
# two layers' full weights are resident (PyTorch FSDP forward/backward prefetch of one unit).
ZERO3_RESIDENT_LAYERS = 2.0
# Share of HBM a training process may fill; the CUDA context, NCCL buffers and allocator
# fragmentation keep the rest (the same 0.9 the serving profiles use, vLLM's default).
TRAINING_HBM_USABLE_FRACTION = 0.9


@record
class TrainingMemory(HbmParts):
    """Bytes per GPU on the fullest GPU (arrays over candidate rows); all of it in HBM, so
    ``total`` is model states + activations + working buffers."""

    weights: np.ndarray
    grads: np.ndarray
    optimiser: np.ndarray
    activations: np.ndarray
    buffers: np.ndarray


def model_state_bytes(params, shards, optimiser: OptimiserSpec, zero) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, gradients and optimiser-state bytes of ``params`` under ZeRO stage ``zero``.

    Args:
        params: parameters one GPU is responsible for before data-parallel sharding.
        shards: members ``N`` of the data-parallel group the states are sharded over.
        optimiser: bytes per parameter.
        zero: stage 0-3 (arrays broadcast).
    """
    p, n, z = (np.asarray(a, dtype=float) for a in (params, shards, zero))
    w = optimiser.weight_bytes_per_param * p
    g = optimiser.grad_bytes_per_param * p
    o = optimiser.state_bytes_per_param * p
    return (np.where(z >= 3, w / n, w), np.where(z >= 2, g / n, g), np.where(z >= 1, o / n, o))


def layer_activation_bytes(shape: TrainingShape, tokens, sequences, moe: bool, scores: bool,
                           with_dropout: bool = False, gemm_input_bytes=ACTIVATION_BYTES,
                           recompute_elementwise: bool = False, fp8_cache=False) -> np.ndarray:
    """Bytes one transformer layer stores for its backward pass, before any parallel split.

    Args:
        shape: model scalars.
        tokens: tokens of the micro-batch, ``s b``.
        sequences: sequences of the micro-batch, ``b`` (for the ``a s^2 b`` score terms).
        moe: the layer's FFN is the MoE block.
        scores: store the attention scores (no recomputation, non-fused attention).
        with_dropout: count dropout masks and outputs (GPT-3-style training).
        gemm_input_bytes: bytes per stored element of a linear layer's input (kept for its
            weight gradient): 2 in bf16; 1 in FP8 training, where Transformer Engine keeps the
            FP8 copy it cast for the forward GEMM.
        recompute_elementwise: drop the outputs of the norms and of the MLP activation (the
            inputs of the QKV, up/gate-or-router and down projections) and rebuild them from
            the kept norm inputs and gate/up outputs in the backward pass: FLOP-free
            elementwise work (DeepSeek-V3 recomputes RMSNorm, arXiv 2412.19437 section 3.2.3;
            Megatron-Core's selective recomputation modules ``layernorm`` and ``moe_act``); for
            MLA also the per-head Q, K and V, rebuilt from the kept latents (DeepSeek-V3's
            "MLA up-projection" recomputation, same section).
        fp8_cache: cache the MoE SwiGLU inputs (gate and up outputs) in FP8 and the attention
            output in E5M6 (DeepSeek-V3, arXiv 2412.19437 section 3.3.3); arrays broadcast.

    A routed expert's output is not kept: the routing probability scales the SwiGLU output inside
    the expert (Megatron-Core's ``weighted_bias_swiglu_impl`` in ``megatron/core/transformer/moe/
    experts.py``), so its gradient needs only the probability (fp32, per copy) and the kept SwiGLU
    inputs, and the combine is a plain sum.

    Term by term, for a GPT layer (MHA, 4h GeLU MLP, dropout, bf16) this is Korthikanti's
    ``34 s b h + 5 a s^2 b``.
    """
    t = np.asarray(tokens, dtype=float)
    h, a = shape.hidden_size, shape.num_heads
    e, x = ACTIVATION_BYTES, np.asarray(gemm_input_bytes, dtype=float)
    cache = np.asarray(fp8_cache, dtype=bool)
    swiglu_in = np.where(cache, FP8_CACHE_BYTES, e)    # a kept SwiGLU input (MoE experts)
    attn_out = np.where(cache, E5M6_BYTES, x)          # the kept output-projection input
    n = 0.0 if recompute_elementwise else x            # a kept norm / activation output
    q_kept = e * t * a * shape.qk_head_dim             # Q
    kv_kept = e * t * shape.kv_heads * (shape.qk_head_dim + shape.v_head_dim)  # K and V
    if recompute_elementwise and shape.kv_latent_dim:  # MLA: keep the latents, rerun the up-projections
        kv_kept = e * t * shape.kv_latent_dim
        q_kept = e * t * shape.q_latent_dim if shape.q_latent_dim else q_kept
    attention = (
        n * t * h                                      # QKV input (norm output)
        + q_kept + kv_kept
        + attn_out * t * a * shape.v_head_dim          # attention output, input to o-proj
        + (DROPOUT_MASK_BYTES * t * h if with_dropout else 0.0)  # mask after o-proj
    )
    if scores:
        s = float(shape.sequence_tokens)
        score_elements = a * s * s * np.asarray(sequences, dtype=float)
        attention = attention + e * score_elements     # softmax output
        if with_dropout:
            attention = attention + (DROPOUT_MASK_BYTES + e) * score_elements  # mask + dropped scores
    norms = 2.0 * e * t * h                             # inputs of the two norms

    def ffn(width: float, gated: bool, kept=e) -> np.ndarray:
        # SwiGLU keeps its gate and up outputs (2 elements of ``kept`` bytes) and their product (the
        # down-projection input); GeLU keeps its input (2 bytes) and output (down-proj input).
        return t * width * ((2.0 if gated else 1.0) * kept + n)

    if moe:
        mlp = (n * t * h                                 # router and dispatch input
               + ROUTER_PROB_BYTES * t * shape.num_experts
               + x * t * shape.top_k * h                 # permuted expert inputs
               + ROUTER_PROB_BYTES * t * shape.top_k     # each copy's probability (weighted SwiGLU)
               + shape.top_k * ffn(shape.moe_intermediate_size, shape.expert_gated, swiglu_in)
               + ffn(shape.shared_intermediate_size, shape.expert_gated, swiglu_in))
    else:
        mlp = n * t * h + ffn(shape.intermediate_size, shape.mlp_gated)
    if with_dropout:
        mlp = mlp + DROPOUT_MASK_BYTES * t * h
    return attention + mlp + norms


def stage_layers(shape: TrainingShape, pp, trim: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layers on the first, on each middle and on the last pipeline stage.

    Without a trim the first ``pp - 1`` stages take ``ceil(L / pp)`` layers each and the last
    stage the rest, which leaves room for the LM head it also carries. ``trim`` takes that many
    layers off the first and the last stage and spreads them over the middle stages, as Llama 3
    did to balance the embedding and the LM head (one layer, arXiv 2407.21783 section 3.3.2:
    126 layers on 16 stages become 7, 14 x 8, 7). The first stage keeps at least one layer.
    With interleaving a GPU's ``vpp`` virtual stages share its layers. Without pipelining all
    three are all ``L`` layers; with two stages the middle equals the first (there is none).
    """
    return split_layers(shape.num_layers, pp, trim)


def mtp_stage_layers(layers: tuple[np.ndarray, np.ndarray, np.ndarray], pp, mtp: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`stage_layers` with ``mtp`` multi-token-prediction modules on the stage that runs the LM head (the last;
    the only one without pipelining): each is one more transformer layer of the model's kind, whose logits
    come from a second pass of the shared LM head (DeepSeek-V3, arXiv 2412.19437 section 2.2: one module,
    an MoE layer beside the main model's 61), costed as one of the model's layers (its MoE share). Its
    ``2h x h`` input projection is left out (DeepSeek-V3: 2 x 7,168^2 = 0.10 B parameters, 18 % of the
    0.59 B a token activates in an MoE layer: about 0.18 of a layer on the last stage)."""
    first, middle, last = layers
    single = np.asarray(pp, dtype=float) <= 1
    return np.where(single, first + mtp, first), np.where(single, middle + mtp, middle), last + mtp


def split_layers(num_layers: int, pp, trim: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`stage_layers` for a layer count: first, each middle and last stage's layers."""
    pp = np.asarray(pp, dtype=float)
    L = float(num_layers)
    base = np.ceil(L / np.maximum(pp, 1.0))
    first = np.maximum(base - trim, 1.0)
    planned_last = np.maximum(base - trim, 0.0)
    middle = np.where(pp > 2, np.ceil(np.maximum(L - first - planned_last, 0.0) / np.maximum(pp - 2.0, 1.0)), first)
    last = np.maximum(L - first - (pp - 2.0) * middle, 0.0)
    single = pp <= 1
    return (np.where(single, L, first), np.where(single, L, middle), np.where(single, L, last))


def layer_params(shape: TrainingShape, layers, tp, ep) -> tuple[np.ndarray, np.ndarray]:
    """Dense and routed-expert parameters one GPU holds for ``layers`` layers.

    Dense blocks split over tp; ``num_experts / ep`` whole experts per MoE layer (expert
    tensor parallel 1). MoE layers are the model's MoE share of ``layers``.
    """
    layers, tp, ep = (np.asarray(a, dtype=float) for a in (layers, tp, ep))
    moe = layers * shape.moe_layer_fraction
    dense = (shape.attention_params * layers + shape.dense_ffn_params * (layers - moe)
             + shape.shared_params * moe) / tp
    expert = shape.num_experts / ep * shape.expert_params * moe if shape.num_moe_layers else np.zeros_like(dense)
    return dense, expert


def vocab_params(shape: TrainingShape, pp, tp, last: bool) -> np.ndarray:
    """Vocabulary-matrix parameters on the first (``last=False``) or last stage, split over tp.

    The first stage holds the embedding and the last the LM head (a tied model keeps a copy
    there, as Megatron-LM does); without pipelining one GPU holds both (one matrix if tied).
    """
    pp, tp = np.asarray(pp, dtype=float), np.asarray(tp, dtype=float)
    both = shape.embedding_params + (0.0 if shape.tied else shape.output_params)
    own = shape.output_params if last else shape.embedding_params
    return np.where(pp > 1, own, both) / tp


def offloaded_layers(layers, offload_layers: int) -> np.ndarray:
    """Layers of a stage whose stored activations live in host memory: ``offload_layers``, leaving at
    least one on the GPU (the layer whose backward runs next)."""
    return np.minimum(float(offload_layers), np.maximum(np.asarray(layers, dtype=float) - 1.0, 0.0))


def in_flight_micro_batches(pp, vpp, micro_batches) -> np.ndarray:
    """Micro-batches whose activations the first stage holds at once under (interleaved) 1F1B."""
    pp, vpp, m = (np.asarray(a, dtype=float) for a in (pp, vpp, micro_batches))
    interleave = np.where(vpp > 1, 1.0 + (pp - 1.0) / (pp * vpp), 1.0)
    return np.where(pp > 1, np.minimum(pp, m) * interleave, 1.0)


def stored_bytes_per_layer(shape: TrainingShape, tp, cp, micro_batch, recompute, precision_fp8,
                           keep_elementwise: bool = False, fp8_cache: bool = False) -> np.ndarray:
    """Activation bytes one layer keeps per GPU for one micro-batch (MoE share averaged in).

    ``recompute`` is an index into ``RECOMPUTE_MODES``; sequence parallelism splits every
    term over tp and context parallelism over cp. ``keep_elementwise``: count the norm and
    MLP-activation outputs under selective recomputation too (the bytes the forward pass
    writes, which the step-time model streams through HBM). ``fp8_cache``: FP8 rows cache the MoE
    SwiGLU inputs in FP8 and the attention output in E5M6 (`layer_activation_bytes`).
    """
    tp, cp, mb, rc = (np.asarray(a, dtype=float) for a in (tp, cp, micro_batch, recompute))
    tokens = mb * shape.sequence_tokens
    fp8 = np.asarray(precision_fp8, bool)
    gemm_bytes = np.where(fp8, 1.0, ACTIVATION_BYTES)
    cache = fp8 & bool(fp8_cache)

    def mixed(scores: bool) -> np.ndarray:
        # Without recomputation everything is kept; selective also rebuilds the elementwise outputs.
        rebuild = not (scores or keep_elementwise)
        dense_l = layer_activation_bytes(shape, tokens, mb, False, scores, gemm_input_bytes=gemm_bytes,
                                         recompute_elementwise=rebuild, fp8_cache=cache)
        if not shape.num_moe_layers:
            return dense_l
        moe_l = layer_activation_bytes(shape, tokens, mb, True, scores, gemm_input_bytes=gemm_bytes,
                                       recompute_elementwise=rebuild, fp8_cache=cache)
        return (1.0 - shape.moe_layer_fraction) * dense_l + shape.moe_layer_fraction * moe_l

    split = tp * cp
    full = ACTIVATION_BYTES * tokens * shape.hidden_size / split  # the layer input only
    return np.select([rc == 0, rc == 2], [mixed(True) / split, full], mixed(False) / split)


def training_memory(shape: TrainingShape, optimiser: OptimiserSpec, tp, pp, vpp, cp, ep, dp, micro_batch,
                    recompute, zero, micro_batches, precision_fp8, trim: int = 0,
                    fp8_cache: bool = False, offload_layers: int = 0, mtp: int = 0) -> TrainingMemory:
    """Memory per GPU of every row on its fullest stage (first, the fullest middle one, or last);
    ``fp8_cache`` as in `stored_bytes_per_layer`; ``offload_layers`` of each stage keep their activations in
    host memory (`offloaded_layers`)."""
    tp, pp, vpp, cp, ep, dp, mb, rc, z = (np.asarray(a, dtype=float)
                                          for a in (tp, pp, vpp, cp, ep, dp, micro_batch, recompute, zero))
    stored = stored_bytes_per_layer(shape, tp, cp, mb, rc, precision_fp8, fp8_cache=fp8_cache)
    # Full recomputation rebuilds one layer's activations while that layer's backward runs.
    rebuilt = np.where(rc == 2, stored_bytes_per_layer(shape, tp, cp, mb, np.ones_like(rc), precision_fp8,
                                                              fp8_cache=fp8_cache), 0.0)
    in_flight = in_flight_micro_batches(pp, vpp, micro_batches)
    tokens = mb * shape.sequence_tokens
    logits = (LOGIT_BYTES * shape.vocab_size + ACTIVATION_BYTES * shape.hidden_size) * tokens / (tp * cp)
    stages = []
    first_layers, middle_layers, last_layers = mtp_stage_layers(stage_layers(shape, pp, trim), pp, mtp)
    interleave = in_flight / np.maximum(np.minimum(pp, micro_batches), 1.0)
    for kind, layers in (("first", first_layers), ("middle", middle_layers), ("last", last_layers)):
        is_last = kind == "last"
        dense_p, expert_p = layer_params(shape, layers, tp, ep)
        if kind != "middle":
            dense_p = dense_p + vocab_params(shape, pp, tp, last=is_last)
        dw, dg, do = model_state_bytes(dense_p, dp * cp, optimiser, z)
        ew, eg, eo = model_state_bytes(expert_p, tp * cp * dp / ep, optimiser, z)
        # 1F1B: stage i holds min(pp - i, m) micro-batches; the fullest middle stage is stage 1.
        middle_flight = np.where(pp > 2, np.minimum(pp - 1.0, micro_batches) * interleave, 0.0)
        flight = {"first": in_flight, "middle": middle_flight, "last": np.where(vpp > 1, in_flight, 1.0)}[kind]
        holds_head = np.ones_like(pp, bool) if is_last else (pp == 1) & (kind == "first")
        # Each LM-head pass (one more per MTP module) keeps its own logits for its backward.
        acts = (stored * (layers - offloaded_layers(layers, offload_layers)) * flight
                + np.where(holds_head, (1.0 + mtp) * logits, 0.0))
        per_layer_w = (dense_p + expert_p) / np.maximum(layers, 1.0) * optimiser.weight_bytes_per_param
        gathered = np.minimum(ZERO3_RESIDENT_LAYERS, layers) * per_layer_w  # nothing to gather from one member
        buffers = rebuilt + np.where((z >= 3) & (dp * cp > 1), gathered, 0.0)
        stages.append(TrainingMemory(weights=dw + ew, grads=dg + eg, optimiser=do + eo, activations=acts,
                                     buffers=buffers))
    fullest = np.vstack([st.total for st in stages]).argmax(axis=0)
    return TrainingMemory(*(np.choose(fullest, [getattr(st, f.name) for st in stages]) for f in fields(stages[0])))
