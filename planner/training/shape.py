"""Scalar model facts the training cost model needs, computed once per (model, sequence length).

FLOP conventions (one multiply-accumulate = 2 FLOPs):

* Linear layers: forward ``2 x matmul parameters`` per token; backward twice that (input and
  weight gradients), so ``6 x N`` per token for training (Kaplan et al. 2020, arXiv 2001.08361,
  section 2.1). Matmul parameters are the active parameters less the input embedding, which
  is a lookup; the output projection (LM head) is a matmul and counts, tied or not.
* Attention core (scores and weighted values) under a causal mask: ``S (S - 1) / 2`` query-key
  pairs per layer (``models.counts.causal_pairs``, the count serving's prefill uses: the
  diagonal is not counted), sliding-window layers at most the window per token, each pair
  ``4 x heads x head_dim`` forward FLOPs for GQA (MLA un-absorbed: ``2 x heads x (qk_head_dim +
  v_head_dim)``; ``models.counts.attention_flops_per_pair``). Megatron-LM's
  ``num_floating_point_operations`` (its ``seq_length / hidden_size * 0.5`` attention term),
  which NVIDIA's published "Model TFLOP/s/GPU" figures use, counts ``S^2 / 2``: ``1 / S`` more
  attention (0.012 % at 8K tokens).
"""

from __future__ import annotations

from models import counts
from models.spec import ModelSpec
from planner.serving.gemms import Gemm, dense_gemms
from planner.serving.shape import BlockShape, block_fields
from specbase.record import record


@record
class TrainingShape(BlockShape):
    """Training's scalars: the blocks (:class:`~planner.serving.shape.BlockShape`) plus the
    dimensions activation memory needs and the per-sequence attention cost at one sequence length.

    Attributes (parameter counts, not bytes), beyond :class:`~planner.serving.shape.BlockShape`'s:
        num_heads, head_dim: attention dimensions.
        qk_head_dim, v_head_dim: per-head query/key and value widths (GQA: both head_dim).
        moe_intermediate_size: one expert's FFN width; shared_intermediate_size: shared experts'.
        mlp_gated, expert_gated: SwiGLU (three matrices) rather than two.
        output_params: the LM head matrix (vocab x hidden) whether or not it is tied to the
            embedding.
        tied: the LM head shares the embedding matrix.
        matmul_params_per_token: active parameters a token multiplies (see module docstring).
        sequence_tokens: S.
        attention_flop_per_sequence: forward attention-core FLOPs of one sequence, all layers.
        q_latent_dim, kv_latent_dim: MLA's per-token query latent (0 without one) and KV latent plus
            the shared rotary key (0 for non-MLA attention): what a layer keeps when it recomputes
            the up-projections (DeepSeek-V3, arXiv 2412.19437 section 3.2.3).
        mla_up_params: parameters of MLA's query and key/value up-projections in one layer (the
            GEMMs that recomputation reruns); 0 for non-MLA attention.
        dense_gemms: the dense-block GEMMs of a layer and the LM head (``planner.serving.gemms``).
        up_gemms: MLA's ``q_b`` (with a query latent) and ``kv_b`` up-projections among them; empty otherwise.
    """

    num_heads: int
    head_dim: int
    qk_head_dim: int
    v_head_dim: int
    moe_intermediate_size: int
    shared_intermediate_size: int
    mlp_gated: bool
    expert_gated: bool
    output_params: float
    tied: bool
    matmul_params_per_token: float
    sequence_tokens: int
    attention_flop_per_sequence: float
    q_latent_dim: int = 0
    kv_latent_dim: int = 0
    mla_up_params: float = 0.0
    dense_gemms: tuple[Gemm, ...] = ()
    up_gemms: tuple[Gemm, ...] = ()

    @property
    def attention_flop_per_token(self) -> float:
        """Forward attention-core FLOPs per token, all layers (averaged over the sequence)."""
        return self.attention_flop_per_sequence / self.sequence_tokens

    @property
    def model_flop_per_token(self) -> float:
        """Training model FLOPs per token: ``6 N + 3 x attention forward`` (no recomputation)."""
        return 6.0 * self.matmul_params_per_token + 3.0 * self.attention_flop_per_token


def training_shape(model: ModelSpec, sequence_tokens: int) -> TrainingShape:
    """Collect the scalars of ``model`` at ``sequence_tokens`` tokens per sequence."""
    pb = counts.param_breakdown(model)
    moe = model.moe
    mla, a = model.mla, model.num_attention_heads
    q_latent = kv_latent = 0
    up = 0.0
    gemms = dense_gemms(model)
    up_gemms: tuple[Gemm, ...] = ()
    if mla is not None:
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        v = mla.v_head_dim
        q_latent = mla.q_lora_rank or 0  # without a query latent, Q comes straight from the hidden state
        kv_latent = mla.kv_lora_rank + mla.qk_rope_head_dim
        up = float(q_latent * a * qk + mla.kv_lora_rank * a * (mla.qk_nope_head_dim + v))
        # dense_gemms lists MLA's attention GEMMs as down, q_b (or q_proj), kv_b, O
        up_gemms = (gemms[1], gemms[2]) if q_latent else (gemms[2],)
    else:
        qk = v = model.head_dim
    return TrainingShape(
        **block_fields(model),
        num_heads=model.num_attention_heads,
        head_dim=model.head_dim,
        qk_head_dim=qk,
        v_head_dim=v,
        moe_intermediate_size=moe.moe_intermediate_size if moe else 0,
        shared_intermediate_size=moe.shared_expert_intermediate_size if moe else 0,
        mlp_gated=model.mlp_gated,
        expert_gated=moe.expert_gated if moe else False,
        output_params=float(model.vocab_size * model.hidden_size),
        tied=pb.lm_head == 0,
        # Active parameters less the input-embedding lookup; a tied model's one matrix is the LM head.
        matmul_params_per_token=float(counts.active_params(model)) - (0.0 if pb.lm_head == 0 else float(pb.embedding)),
        sequence_tokens=int(sequence_tokens),
        attention_flop_per_sequence=float(counts.prefill_attention_flops(model, sequence_tokens, absorbed=False)),
        q_latent_dim=q_latent, kv_latent_dim=kv_latent, mla_up_params=up, dense_gemms=gemms, up_gemms=up_gemms,
    )
