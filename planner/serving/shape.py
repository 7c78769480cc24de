"""Scalar model facts the vectorised cost model needs, computed once per (model, workload).

Kernels per layer (:func:`kernels_per_layer`): what a decode step launches per layer under
CUDA graphs, counted from the architecture. Each kernel costs a launch gap and a minimum
duration however little work it does (aiconfigurator's ``mem_empirical_constant_latency``,
about 3 us per kernel), which the engine profile charges as ``per_kernel_overhead_s``.
Residual adds are fused into the next RMSNorm (vLLM/SGLang ``fused_add_rms_norm``,
TensorRT-LLM's all-reduce + residual + norm fusion) and biases into GEMM epilogues, so
neither counts; tensor-parallel and expert-parallel collectives are charged in
``planner.serving.comm`` (one per-message latency each), not here.
"""

from __future__ import annotations

import numpy as np

from models import counts
from models.spec import ModelSpec
from planner.kept import Kept
from planner.serving.gemms import Gemm, dense_gemms
from specbase.record import record

# GQA/MHA attention block: RMSNorm, fused QKV GEMM, rotary + KV-cache append, attention, O GEMM.
GQA_ATTENTION_KERNELS = 5
# Qwen3's per-head query/key RMSNorm: one more (fused q and k) kernel.
QK_NORM_KERNELS = 1
# MLA (absorbed decode, DeepSeek-V3): RMSNorm, fused q_a/kv_a down-projection GEMM, latent RMSNorms,
# q_b up-projection GEMM, W_UK absorption BMM, rotary + latent KV append, attention, W_UV BMM, O GEMM.
MLA_ATTENTION_KERNELS = 9
# MLA without a query latent (q_lora_rank None): no q_b GEMM.
MLA_NO_Q_LORA_KERNELS = 8
# Dense FFN: RMSNorm, gate-up (or up) GEMM, activation, down GEMM.
DENSE_FFN_KERNELS = 4
# Routed MoE: RMSNorm, router GEMM, top-k, permute/dispatch, grouped gate-up GEMM, activation,
# grouped down GEMM, finalize/combine.
ROUTED_MOE_KERNELS = 8
# Shared expert(s), run as one dense FFN without its own norm: gate-up GEMM, activation, down GEMM.
SHARED_EXPERT_KERNELS = 3
# A sigmoid gate on the shared expert's output (hidden_size x 1 GEMV and scale).
SHARED_EXPERT_GATE_KERNELS = 1


def kernels_per_layer(model: ModelSpec) -> tuple[int, int, int]:
    """Kernels one decode step launches per layer: (attention block, dense FFN, MoE FFN).

    E.g. gpt-oss-120b (GQA, routed MoE): 5 + 8 = 13 per layer; DeepSeek-V3's MoE layers
    (MLA, routed MoE with a shared expert): 9 + 8 + 3 = 20; Llama-3.1-8B: 5 + 4 = 9.
    """
    if model.mla is not None:
        attention = MLA_ATTENTION_KERNELS if model.mla.q_lora_rank else MLA_NO_Q_LORA_KERNELS
    else:
        attention = GQA_ATTENTION_KERNELS + (QK_NORM_KERNELS if model.qk_norm else 0)
    moe = 0
    if model.moe is not None:
        moe = ROUTED_MOE_KERNELS
        if model.moe.num_shared_experts:
            moe += SHARED_EXPERT_KERNELS + (SHARED_EXPERT_GATE_KERNELS if model.moe.shared_expert_gate else 0)
    return attention, DENSE_FFN_KERNELS, moe


@record
class BlockShape:
    """Layer counts, dimensions and per-block parameter counts: what serving's and training's shapes share.

    Attributes (parameter counts, not bytes):
        num_layers, num_moe_layers: layer counts.
        hidden_size, intermediate_size, vocab_size, kv_heads: dimensions.
        attention_params, dense_ffn_params, shared_params: per layer (shared includes the router).
        expert_params: one routed expert; num_experts, top_k: routing (1, 0 for dense models).
        embedding_params: the input embedding as stored.
        total_params: every stored parameter.
    """

    num_layers: int
    num_moe_layers: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    kv_heads: int
    attention_params: float
    dense_ffn_params: float
    shared_params: float
    expert_params: float
    num_experts: int
    top_k: int
    embedding_params: float
    total_params: float

    @property
    def moe_layer_fraction(self) -> float:
        """Share of layers that are MoE."""
        return self.num_moe_layers / self.num_layers


def block_fields(model: ModelSpec) -> dict:
    """The :class:`BlockShape` fields of ``model``, to build either shape from."""
    pb = counts.param_breakdown(model)
    return {
        "num_layers": model.num_hidden_layers,
        "num_moe_layers": pb.num_moe_layers,
        "hidden_size": model.hidden_size,
        "intermediate_size": model.intermediate_size,
        "vocab_size": model.vocab_size,
        "kv_heads": model.num_key_value_heads,
        "attention_params": float(pb.attention_per_layer),
        "dense_ffn_params": float(pb.dense_ffn_per_layer),
        "shared_params": float(pb.shared_expert_per_layer + pb.router_per_layer),
        "expert_params": float(pb.expert_params),
        "num_experts": max(pb.num_experts, 1),
        "top_k": pb.num_experts_per_tok,
        "embedding_params": float(pb.embedding),
        "total_params": float(counts.total_params(model)),
    }


@record
class ModelShape(BlockShape):
    """Serving's scalars: the blocks plus context-dependent per-token costs and kernel counts.

    Attributes (parameter counts, not bytes, unless the name says otherwise), beyond
    :class:`BlockShape`'s:
        lm_head_params: as stored (0 when tied).
        vocab_params: the larger of embedding / lm_head matrix read by the output projection.
        active_params: active parameters per token.
        linear_flop_per_token: 2 x active parameters (seed Note 2 definition).
        attention_flop_per_token: score and value FLOPs per new token at the decode context.
        kv_sequence_elements: KV elements one sequence holds at the KV context, all layers,
            sliding windows applied (multiply by bytes per element).
        kv_read_sequence_elements: the same at the decode context (what one step reads).
        kv_new_token_elements: elements one new token writes, all layers.
        is_mla: the model caches an MLA latent.
        attention_kernels, dense_ffn_kernels, moe_ffn_kernels: kernels per layer of each
            block (:func:`kernels_per_layer`).
        prefill_tokens, prefill_attention_flop: prompt length and its causal attention FLOPs.
        dense_gemms: the dense-block GEMMs of a layer and the LM head (``planner.serving.gemms``).
        attention_heads: query heads per layer (the attention kernels' work units).
        block_scaled_fp8: FP8 weights run on block-scaled GEMMs (the model's released FP8 weights carry block scales,
            ``ModelSpec.block_scaled_fp8``; ``planner.engine.kernels.gemm.FP8_BLOCK_ROW``).
    """

    lm_head_params: float
    vocab_params: float
    active_params: float
    linear_flop_per_token: float
    attention_flop_per_token: float
    kv_sequence_elements: float
    kv_read_sequence_elements: float
    kv_new_token_elements: float
    is_mla: bool
    attention_kernels: int
    dense_ffn_kernels: int
    moe_ffn_kernels: int
    prefill_tokens: float = 0.0
    prefill_attention_flop: float = 0.0
    dense_gemms: tuple[Gemm, ...] = ()
    attention_heads: int = 0
    block_scaled_fp8: bool = False


# A table scored in blocks and rounds asks the same shape for every block (~0.1 ms a call on a 2-core EPYC): each
# is collected once (`planner.kept`), by its model spec and approximation and its contexts.
_KEPT: Kept[ModelShape] = Kept(limit=256)


def model_shape(model: ModelSpec, decode_context_tokens: float, kv_context_tokens: float,
                moe_approximation: counts.SeedMoeApproximation | None = None,
                prefill_tokens: float = 0.0) -> ModelShape:
    """Collect the scalars of ``model`` at the given decode and KV contexts and prompt length (tokens)."""
    return _KEPT.get((model, moe_approximation),
                     lambda: _shape(model, decode_context_tokens, kv_context_tokens, moe_approximation, prefill_tokens),
                     (decode_context_tokens, kv_context_tokens, prefill_tokens))


def _shape(model: ModelSpec, decode_context_tokens: float, kv_context_tokens: float,
           moe_approximation: counts.SeedMoeApproximation | None, prefill_tokens: float) -> ModelShape:
    pb = counts.param_breakdown(model)
    per_elem = counts.kv_bytes_per_token(model, 1.0)  # elements per token, all layers, no window
    kv_seq = float(np.asarray(counts.kv_bytes_per_sequence(model, float(kv_context_tokens), 1.0)))
    kv_read = float(np.asarray(counts.kv_bytes_per_sequence(model, float(decode_context_tokens), 1.0)))
    active = float(counts.active_params(model, moe_approximation))
    attention_kernels, dense_ffn_kernels, moe_ffn_kernels = kernels_per_layer(model)
    return ModelShape(
        **block_fields(model),
        lm_head_params=float(pb.lm_head),
        vocab_params=float(max(pb.lm_head, pb.embedding)),
        active_params=active,
        linear_flop_per_token=2.0 * active,
        attention_flop_per_token=float(np.asarray(counts.attention_flops_per_token(model, decode_context_tokens))),
        kv_sequence_elements=kv_seq,
        kv_read_sequence_elements=kv_read,
        kv_new_token_elements=per_elem,
        is_mla=model.mla is not None,
        attention_kernels=attention_kernels,
        dense_ffn_kernels=dense_ffn_kernels,
        moe_ffn_kernels=moe_ffn_kernels,
        prefill_tokens=float(prefill_tokens),
        prefill_attention_flop=float(np.asarray(counts.prefill_attention_flops(model, prefill_tokens)))
        if prefill_tokens else 0.0,
        dense_gemms=dense_gemms(model),
        attention_heads=model.num_attention_heads,
        block_scaled_fp8=model.block_scaled_fp8,
    )


def prefill_attention_scale(model: ModelSpec) -> float:
    """Prefill / decode attention FLOPs per (query, cached token) pair: 1 except for MLA.

    MLA decode is absorbed: ``2 h (kv_lora + rope) + 2 h kv_lora`` per pair; prefill
    decompresses keys and values and runs ``2 h (qk_nope + qk_rope) + 2 h v_head``
    (``models.counts.attention_flops_per_pair``). DeepSeek-V3:
    ``(2 x 128 x 192 + 2 x 128 x 128) / (2 x 128 x 576 + 2 x 128 x 512) = 81,920 / 278,528 = 0.294``.
    """
    return counts.attention_flops_per_pair(model, absorbed=False) / counts.attention_flops_per_pair(model)
