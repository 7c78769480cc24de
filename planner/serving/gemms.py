"""The dense-block GEMMs of one layer, by shape, for the GEMM kernel curve (``planner.engine.kernels.gemm``).

Each :class:`Gemm` is one weight matrix a token's hidden state passes through, ``k`` inputs to
``n`` outputs, in one of four blocks: ``attention`` (every layer), ``dense`` (dense-FFN layers),
``shared`` (MoE layers: shared experts and router) and ``head`` (the LM head, once per model).
Tensor parallelism splits a column-parallel GEMM's ``n`` and a row-parallel GEMM's ``k`` over
``tp`` (Megatron-style pairs: QKV and gate-up by columns, O and down by rows); a replicated one
(MLA's down-projections, the router) is whole on every rank. The routed experts and the attention
core are not here (their own curves); neither are norms or biases.

* GQA/MHA: QKV ``hidden -> (heads + 2 kv_heads) x head_dim`` (columns), O
  ``heads x head_dim -> hidden`` (rows).
* MLA (DeepSeek-V3 report, 2.1.1): the fused down-projection ``hidden -> q_lora + kv_lora + rope``
  (replicated), ``q_b`` ``q_lora -> heads x (nope + rope)`` (or ``q_proj`` from ``hidden`` without a
  query latent) and ``kv_b`` ``kv_lora -> heads x (nope + v_head)`` (columns; in absorbed decode its
  two halves run as batched matmuls over the same bytes), O ``heads x v_head -> hidden`` (rows).
* FFN: gate-up ``hidden -> 2 x intermediate`` (``1 x`` without a gate; columns), down
  ``intermediate -> hidden`` (rows); the shared experts likewise, all of them fused
  (``shared_expert_intermediate_size`` covers them all, as ``models.counts`` counts it), plus the
  router ``hidden -> experts`` (replicated) and a shared-expert gate ``hidden -> 1``.
* LM head: ``hidden -> vocab`` (columns).
"""

from __future__ import annotations

from models.spec import ModelSpec
from specbase.record import record


@record
class Gemm:
    """One weight matrix: ``k`` inputs to ``n`` outputs; ``split`` is ``"n"``, ``"k"`` or ``""`` (replicated)."""

    block: str
    n: float
    k: float
    split: str


def _ffn(block: str, hidden: int, inter: int, gated: bool) -> list[Gemm]:
    return [Gemm(block, (2 if gated else 1) * inter, hidden, "n"), Gemm(block, hidden, inter, "k")]


def dense_gemms(model: ModelSpec) -> tuple[Gemm, ...]:
    """The dense-block GEMMs of ``model`` (module docstring).

    E.g. Llama-3.1-8B (hidden 4,096, 32 heads, 8 KV heads of 128, intermediate 14,336, vocab
    128,256): QKV 4,096 -> 6,144, O 4,096 -> 4,096, gate-up 4,096 -> 28,672, down 14,336 -> 4,096,
    LM head 4,096 -> 128,256.
    """
    h, heads = model.hidden_size, model.num_attention_heads
    out: list[Gemm] = []
    if model.mla is not None:
        mla = model.mla
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        out.append(Gemm("attention", (mla.q_lora_rank or 0) + mla.kv_lora_rank + mla.qk_rope_head_dim, h, ""))
        out.append(Gemm("attention", heads * qk, mla.q_lora_rank or h, "n"))
        out.append(Gemm("attention", heads * (mla.qk_nope_head_dim + mla.v_head_dim), mla.kv_lora_rank, "n"))
        out.append(Gemm("attention", h, heads * mla.v_head_dim, "k"))
    else:
        hd = model.head_dim
        out.append(Gemm("attention", (heads + 2 * model.num_key_value_heads) * hd, h, "n"))
        out.append(Gemm("attention", h, heads * hd, "k"))
    if model.intermediate_size:
        out += _ffn("dense", h, model.intermediate_size, model.mlp_gated)
    moe = model.moe
    if moe is not None:
        out.append(Gemm("shared", moe.num_experts, h, ""))
        if moe.num_shared_experts:
            out += _ffn("shared", h, moe.shared_expert_intermediate_size, moe.expert_gated)
            if moe.shared_expert_gate:
                out.append(Gemm("shared", 1, h, ""))
    out.append(Gemm("head", model.vocab_size, h, "n"))
    return tuple(out)
