"""Parameter, weight, KV-cache and FLOP counts of a :class:`~models.spec.ModelSpec`.

Pure functions: a spec and numbers (or numpy arrays) in, numbers or arrays out; no I/O, no
state. The same functions fill the planner's coefficient tables and score its final plan.

Conventions:

* Parameter counts follow the HF module layout (``LlamaForCausalLM``, ``DeepseekV3Model``,
  ``GptOssModel``): every weight, bias, norm and sink, counted once. DeepSeek's
  multi-token-prediction layer (``num_nextn_predict_layers``) is not counted: the published
  671B excludes it.
* A FLOP is one multiply or one add; a multiply-accumulate is 2 FLOPs.
* Attention FLOPs count only the score (``QK^T``) and value (``AV``) products against the
  cache; the q/k/v/o projections are linear layers, counted in :func:`linear_flops_per_token`.
  Softmax, norms and rotary embeddings are ignored (well under 1 % at serving sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.spec import ModelSpec


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameter counts (not bytes) by component.

    Attributes:
        embedding: input embedding, ``vocab_size * hidden_size``.
        lm_head: output projection, ``vocab_size * hidden_size``; 0 when tied.
        attention_per_layer: q/k/v/o projections of one layer, with their biases, the MLA
            down/up projections and latent norms, Qwen3's q/k norms and gpt-oss's sinks.
        dense_ffn_per_layer: FFN of one dense layer; 0 when the model has no dense layer.
        router_per_layer: MoE gate of one layer (and its bias); 0 for dense models.
        expert_params: ONE routed expert, with its biases.
        shared_expert_per_layer: all shared experts of one MoE layer, with any shared gate.
        num_dense_layers: layers with a dense FFN.
        num_moe_layers: layers with the MoE block.
        num_experts: routed experts per MoE layer (0 for dense models).
        num_experts_per_tok: routed experts per token (0 for dense models).
        norms_total: the two RMSNorms of every layer plus the final norm.
    """

    embedding: int
    lm_head: int
    attention_per_layer: int
    dense_ffn_per_layer: int
    router_per_layer: int
    expert_params: int
    shared_expert_per_layer: int
    num_dense_layers: int
    num_moe_layers: int
    num_experts: int
    num_experts_per_tok: int
    norms_total: int


@dataclass(frozen=True)
class SeedMoeApproximation:
    """The seed simulator's MoE shortcut (seed notes, Note 2, in docs/sources.md).

    ``active = total * (shared_param_fraction + expert_param_fraction * top_k / num_experts)``,
    with the 12 % / 88 % split the seed assumed for Qwen3.

    Attributes:
        shared_param_fraction: share of all parameters that every token uses.
        expert_param_fraction: share of all parameters in routed experts.
    """

    shared_param_fraction: float = 0.12
    expert_param_fraction: float = 0.88

    def __post_init__(self) -> None:
        for name in ("shared_param_fraction", "expert_param_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")


def _ffn_params(hidden: int, width: int, *, gated: bool, bias: bool) -> int:
    """One MLP: gate+up+down (SwiGLU) or up+down, with optional biases."""
    matrices = 3 if gated else 2
    biases = ((2 if gated else 1) * width + hidden) if bias else 0
    return matrices * hidden * width + biases


def _attention_params(spec: ModelSpec) -> int:
    h, heads = spec.hidden_size, spec.num_attention_heads
    if spec.mla is not None:
        m = spec.mla
        qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank is None:
            q = h * heads * qk_head  # q_proj
        else:
            # q_a_proj (down) + q_a_layernorm + q_b_proj (up)
            q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * heads * qk_head
        kv = (
            h * (m.kv_lora_rank + m.qk_rope_head_dim)  # kv_a_proj_with_mqa: latent + rope key
            + m.kv_lora_rank  # kv_a_layernorm
            + m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)  # kv_b_proj (up)
        )
        o = heads * m.v_head_dim * h  # o_proj
        bias = 0
        if spec.attention_bias:  # q_a_proj, kv_a_proj_with_mqa and o_proj biases
            bias = (m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim + h
        return q + kv + o + bias
    q_width = heads * spec.head_dim
    kv_width = spec.num_key_value_heads * spec.head_dim
    params = h * q_width + 2 * h * kv_width + q_width * h  # q, k, v, o projections
    if spec.attention_bias:
        params += q_width + 2 * kv_width + h  # q, k, v, o biases
    if spec.qk_norm:
        params += 2 * spec.head_dim  # q_norm, k_norm (per-head RMSNorm weights)
    if spec.attention_sinks:
        params += heads  # one sink logit per head
    return params


def param_breakdown(spec: ModelSpec) -> ParamBreakdown:
    """Count parameters by component (see :class:`ParamBreakdown`)."""
    h = spec.hidden_size
    moe = spec.moe
    dense_ffn = 0
    if spec.num_dense_layers:
        dense_ffn = _ffn_params(h, spec.intermediate_size, gated=spec.mlp_gated, bias=spec.mlp_bias)
    router = expert = shared = 0
    if moe is not None:
        router = h * moe.num_experts + (moe.num_experts if moe.router_bias else 0)
        gated = moe.expert_gated
        expert = _ffn_params(h, moe.moe_intermediate_size, gated=gated, bias=moe.expert_bias)
        if moe.num_shared_experts:
            shared = _ffn_params(h, moe.shared_expert_intermediate_size, gated=gated, bias=False)
            shared += h if moe.shared_expert_gate else 0
    embedding = spec.vocab_size * h
    return ParamBreakdown(
        embedding=embedding,
        lm_head=0 if spec.tie_word_embeddings else embedding,
        attention_per_layer=_attention_params(spec),
        dense_ffn_per_layer=dense_ffn,
        router_per_layer=router,
        expert_params=expert,
        shared_expert_per_layer=shared,
        num_dense_layers=spec.num_dense_layers,
        num_moe_layers=spec.num_moe_layers,
        num_experts=moe.num_experts if moe is not None else 0,
        num_experts_per_tok=moe.num_experts_per_tok if moe is not None else 0,
        norms_total=2 * h * spec.num_hidden_layers + h,  # input + post-attention norms, final norm
    )


def _params_with_experts(b: ParamBreakdown, experts_per_layer: int) -> int:
    """All parameters, counting ``experts_per_layer`` routed experts in every MoE layer."""
    num_layers = b.num_dense_layers + b.num_moe_layers
    return (
        b.embedding
        + b.lm_head
        + num_layers * b.attention_per_layer
        + b.num_dense_layers * b.dense_ffn_per_layer
        + b.num_moe_layers * (b.router_per_layer + b.shared_expert_per_layer)
        + b.num_moe_layers * experts_per_layer * b.expert_params
        + b.norms_total
    )


def total_params(spec: ModelSpec) -> int:
    """Parameters stored in the checkpoint (MTP layers excluded)."""
    b = param_breakdown(spec)
    return _params_with_experts(b, b.num_experts)


def active_params(spec: ModelSpec, moe_approximation: SeedMoeApproximation | None = None) -> float:
    """Parameters one token touches: all but the routed experts it does not select.

    The embedding is counted once and the LM head is counted (so a tied model counts its
    matrix once). Some model cards count differently: gpt-oss's 5.1B leaves the input
    embedding out.

    Args:
        spec: the model.
        moe_approximation: use the seed's fraction shortcut instead of the exact count
            (MoE models only; a dense model returns its total either way).
    """
    b = param_breakdown(spec)
    if moe_approximation is not None and spec.moe is not None:
        a = moe_approximation
        top_k_fraction = b.num_experts_per_tok / b.num_experts
        fraction = a.shared_param_fraction + a.expert_param_fraction * top_k_fraction
        return total_params(spec) * fraction
    return float(_params_with_experts(b, b.num_experts_per_tok))


def weight_bytes(spec: ModelSpec, bytes_per_param: float | np.ndarray) -> float | np.ndarray:
    """Bytes of all weights at a uniform ``bytes_per_param`` (``total_params * bytes``)."""
    return total_params(spec) * bytes_per_param


def kv_bytes_per_token_per_layer(
    spec: ModelSpec, bytes_per_element: float | np.ndarray
) -> float | np.ndarray:
    """KV-cache bytes one token adds in one layer.

    GQA: ``2 (K and V) * num_key_value_heads * head_dim * bytes``. MLA caches the compressed
    latent and the shared rotary key: ``(kv_lora_rank + qk_rope_head_dim) * bytes``
    (DeepSeek-V3 report, section 2.1.1).
    """
    if spec.mla is not None:
        return (spec.mla.kv_lora_rank + spec.mla.qk_rope_head_dim) * bytes_per_element
    return 2 * spec.num_key_value_heads * spec.head_dim * bytes_per_element


def kv_bytes_per_token(
    spec: ModelSpec, bytes_per_element: float | np.ndarray
) -> float | np.ndarray:
    """KV-cache bytes one token adds across all layers (no sliding-window cap)."""
    return spec.num_hidden_layers * kv_bytes_per_token_per_layer(spec, bytes_per_element)


def _context(context_tokens: np.ndarray | float) -> np.ndarray:
    ctx = np.asarray(context_tokens, dtype=np.float64)
    if np.any(ctx < 0):
        raise ValueError(f"context_tokens must be >= 0, got min {ctx.min()}")
    return ctx


def _cached_layer_tokens(spec: ModelSpec, ctx: np.ndarray) -> np.ndarray:
    """Sum over layers of the tokens each layer keeps or attends to, ``min(ctx, window)``
    for sliding layers and ``ctx`` for full-attention layers."""
    full = spec.num_full_attention_layers * ctx
    if spec.num_sliding_layers == 0:
        return full
    return full + spec.num_sliding_layers * np.minimum(ctx, spec.sliding_window)


def kv_bytes_per_sequence(
    spec: ModelSpec, context_tokens: np.ndarray | float, bytes_per_element: float | np.ndarray
) -> np.ndarray:
    """KV-cache bytes of one sequence holding ``context_tokens`` tokens.

    Sliding-window layers keep at most ``sliding_window`` tokens (gpt-oss alternates
    128-token windowed and full layers); full layers keep all of them. Vectorised over
    ``context_tokens`` (and ``bytes_per_element`` where it broadcasts).
    """
    layer_tokens = _cached_layer_tokens(spec, _context(context_tokens))
    return layer_tokens * kv_bytes_per_token_per_layer(spec, bytes_per_element)


def linear_flops_per_token(
    spec: ModelSpec, moe_approximation: SeedMoeApproximation | None = None
) -> float:
    """Matrix-multiply FLOPs per token: ``2 * active_params`` (seed notes, Note 2, in docs/sources.md).

    Each active weight contributes one multiply-accumulate. This counts the embedding
    lookup as if it were a matmul, which makes the figure a few per cent conservative
    (about 10 % for gpt-oss, whose embedding is large next to its 5B active weights).
    """
    return 2.0 * active_params(spec, moe_approximation)


def attention_flops_per_pair(spec: ModelSpec, absorbed: bool = True) -> int:
    """Score and value FLOPs of one (query, key) pair in one layer, 2 FLOPs per multiply-accumulate.

    GQA: ``2 x 2 x heads x head_dim`` (``QK^T`` and ``AV``). MLA absorbed (as decode serves it):
    scores over the latent plus rope key, values read from the latent,
    ``2 h (kv_lora_rank + qk_rope_head_dim) + 2 h kv_lora_rank``; MLA un-absorbed (prefill and
    training decompress keys and values, DeepSeek-V3 report 2.1.1):
    ``2 h (qk_nope_head_dim + qk_rope_head_dim) + 2 h v_head_dim``.
    """
    heads = spec.num_attention_heads
    if spec.mla is not None:
        m = spec.mla
        if absorbed:
            return 2 * heads * (m.kv_lora_rank + m.qk_rope_head_dim) + 2 * heads * m.kv_lora_rank
        return 2 * heads * (m.qk_nope_head_dim + m.qk_rope_head_dim) + 2 * heads * m.v_head_dim
    return 2 * 2 * heads * spec.head_dim


def attention_flops_per_token(spec: ModelSpec, context_tokens: np.ndarray | float) -> np.ndarray:
    """Score and value FLOPs of ONE new token attending to ``context_tokens`` cached tokens.

    Per layer: :func:`attention_flops_per_pair` (absorbed MLA) times the context; sliding
    layers use ``min(ctx, sliding_window)``. Summed over layers; vectorised.
    """
    layer_tokens = _cached_layer_tokens(spec, _context(context_tokens))
    return attention_flops_per_pair(spec) * layer_tokens


def causal_pairs(tokens: np.ndarray | float, window: float | None = None) -> np.ndarray:
    """(query, key) pairs one layer scores over ``n`` tokens under a causal mask.

    Convention: token ``i`` scores the ``i`` tokens before it; the diagonal (a token's own key)
    is not counted, so the sum equals :func:`attention_flops_per_token` summed over contexts
    ``0 .. n - 1``: ``n (n - 1) / 2``. (Counting the diagonal adds ``n`` pairs, ``2 / n`` of the
    total; Megatron-LM's ``n^2 / 2`` sits halfway.) A sliding window lets a token score at most
    ``w`` earlier tokens: ``m (m - 1) / 2 + w max(n - 1 - w, 0)`` with ``m = min(n, w + 1)``.
    E.g. 1,024 tokens: 523,776 pairs; with a 128-token window, 8,256 + 128 x 895 = 122,816.
    Exact in float64 for integer ``n`` (``n^2 < 2^53``); vectorised.
    """
    n = np.asarray(tokens, dtype=np.float64)
    if window is None:
        return n * (n - 1) / 2
    w = float(window)
    m = np.minimum(n, w + 1)
    return m * (m - 1) / 2 + w * np.maximum(n - 1 - w, 0)  # ramp up to w, then w per token


def prefill_attention_flops(spec: ModelSpec, prompt_tokens: np.ndarray | float, absorbed: bool = True) -> np.ndarray:
    """Attention FLOPs of a causal forward pass over ``n`` tokens (a prompt's prefill, a training sequence).

    :func:`causal_pairs` per layer (full layers unwindowed, sliding layers windowed) times
    :func:`attention_flops_per_pair`; ``absorbed`` as there (serving scales its absorbed figure
    to prefill's un-absorbed MLA, training asks for un-absorbed). Vectorised; meant for integer ``n``.
    """
    n = _context(prompt_tokens)
    layer_pairs = spec.num_full_attention_layers * causal_pairs(n)
    if spec.num_sliding_layers:
        layer_pairs = layer_pairs + spec.num_sliding_layers * causal_pairs(n, spec.sliding_window)
    return attention_flops_per_pair(spec, absorbed) * layer_pairs
