"""Model specifications: the architecture facts the cost model needs, in Hugging Face names.

Field names follow ``config.json`` (``hidden_size``, ``num_key_value_heads``,
``num_experts_per_tok``, ``moe_intermediate_size``, ``kv_lora_rank``) so that a spec can be
diffed against the model card. Specs are normally built by :func:`models.hf.load_hf_config`,
which picks the keys it needs from a real config and ignores the rest; the classes here
forbid unknown fields, so a misspelt key in code fails loudly.

A few fields are ours, derived by the loader rather than read from one HF key:
``mlp_gated``, ``qk_norm``, ``attention_sinks``, ``native_weight_quant`` and the MoE layout.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

LayerType = Literal["sliding_attention", "full_attention"]


def _at_most(name: str, value: int, limit_name: str, limit: int) -> None:
    """Raise ``ValueError("name=value exceeds limit_name=limit")`` when ``value > limit``."""
    if value > limit:
        raise ValueError(f"{name}={value} exceeds {limit_name}={limit}")


class MoeSpec(BaseModel):
    """Mixture-of-experts block, shared by every MoE layer of a model.

    Attributes:
        num_experts: routed experts per MoE layer (HF ``num_experts`` / ``num_local_experts`` /
            ``n_routed_experts``).
        num_experts_per_tok: routed experts selected per token (top-k).
        moe_intermediate_size: FFN width of one routed expert.
        num_shared_experts: always-active shared experts per MoE layer (0 if none).
        shared_expert_intermediate_size: FFN width of all shared experts of a layer together
            (DeepSeek builds one MLP of ``n_shared_experts * moe_intermediate_size``); defaults
            to ``num_shared_experts * moe_intermediate_size``.
        num_dense_layers: layers with a dense FFN instead of experts (DeepSeek-V3
            ``first_k_dense_replace`` = 3 leading layers; Kimi-K2 1; Qwen3-MoE, Mixtral and
            gpt-oss 0). A count; the dense layers need not lead (Qwen ``mlp_only_layers``).
        expert_gated: SwiGLU experts (gate, up and down matrices) rather than two matrices.
        expert_bias: experts carry biases on their projections (gpt-oss).
        router_bias: the router carries one bias per expert (gpt-oss's router bias,
            DeepSeek-V3's ``e_score_correction_bias``).
        shared_expert_gate: a ``hidden_size x 1`` sigmoid gate scales the shared expert
            (Qwen2-MoE).
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    num_experts: PositiveInt
    num_experts_per_tok: PositiveInt
    moe_intermediate_size: PositiveInt
    num_shared_experts: int = Field(default=0, ge=0)
    shared_expert_intermediate_size: int = Field(default=0, ge=0)
    num_dense_layers: int = Field(default=0, ge=0)
    expert_gated: bool = True
    expert_bias: bool = False
    router_bias: bool = False
    shared_expert_gate: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_shared_width(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("shared_expert_intermediate_size") is None:
            data = dict(data)
            shared = data.get("num_shared_experts") or 0
            width = data.get("moe_intermediate_size") or 0
            data["shared_expert_intermediate_size"] = shared * width
        return data

    @model_validator(mode="after")
    def _check(self) -> MoeSpec:
        _at_most("num_experts_per_tok", self.num_experts_per_tok, "num_experts", self.num_experts)
        if self.num_shared_experts > 0 and self.shared_expert_intermediate_size == 0:
            raise ValueError(
                f"num_shared_experts={self.num_shared_experts} but "
                "shared_expert_intermediate_size is 0"
            )
        return self


class MlaSpec(BaseModel):
    """Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2).

    Attributes:
        kv_lora_rank: width of the compressed KV latent cached per token and layer.
        q_lora_rank: width of the compressed query latent; None when queries are projected
            directly from the hidden state (DeepSeek-V2-Lite).
        qk_nope_head_dim: per-head query/key width without rotary embedding.
        qk_rope_head_dim: rotary query/key width; the rotary key is shared by all heads and
            cached next to the latent.
        v_head_dim: per-head value width.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    kv_lora_rank: PositiveInt
    q_lora_rank: PositiveInt | None = None
    qk_nope_head_dim: PositiveInt
    qk_rope_head_dim: PositiveInt
    v_head_dim: PositiveInt


class ModelSpec(BaseModel):
    """A decoder-only transformer, dense or MoE, with GQA or MLA attention.

    Attributes:
        name: catalogue name or a name given by the caller.
        source: where the config came from (HF id and copy, or a file path).
        model_type: HF ``model_type`` (``llama``, ``qwen3_moe``, ``deepseek_v3``, ...).
        hidden_size: residual stream width.
        num_hidden_layers: decoder layers (DeepSeek's MTP layers excluded).
        num_attention_heads: query heads.
        num_key_value_heads: KV heads (GQA); defaults to ``num_attention_heads``.
        head_dim: per-head width; defaults to ``hidden_size // num_attention_heads``. For MLA
            it is the query/key width ``qk_nope_head_dim + qk_rope_head_dim``.
        intermediate_size: dense FFN width (unused, but kept, when every layer is MoE).
        vocab_size: vocabulary rows of the embedding and of the LM head.
        tie_word_embeddings: the LM head shares the embedding matrix.
        attention_bias: q/k/v/o projections carry biases (gpt-oss).
        mlp_bias: dense FFN projections carry biases.
        mlp_gated: dense FFN is gated (SwiGLU: three matrices) rather than two matrices.
        qk_norm: per-head RMSNorm on queries and keys (Qwen3).
        attention_sinks: one learned sink logit per head and layer (gpt-oss).
        moe: the MoE block, or None for a dense model.
        mla: the MLA block, or None for GQA/MHA.
        sliding_window: window of sliding-attention layers, in tokens, or None.
        layer_types: per-layer attention kind (gpt-oss alternates sliding and full). None with
            a ``sliding_window`` means every layer slides (Mistral-7B-v0.1 style).
        max_position_embeddings: longest context the model is configured for, in tokens.
        num_nextn_predict_layers: DeepSeek multi-token-prediction layers; informational, not
            counted in parameters (the published 671B excludes them).
        torch_dtype: dtype the checkpoint declares; informational.
        native_weight_quant: quantisation of the released weights (``fp8`` for DeepSeek-V3,
            ``mxfp4`` for gpt-oss, experts only); informational.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    source: str
    model_type: str
    hidden_size: PositiveInt
    num_hidden_layers: PositiveInt
    num_attention_heads: PositiveInt
    num_key_value_heads: PositiveInt
    head_dim: PositiveInt
    intermediate_size: int = Field(ge=0)
    vocab_size: PositiveInt
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    mlp_gated: bool = True
    qk_norm: bool = False
    attention_sinks: bool = False
    moe: MoeSpec | None = None
    mla: MlaSpec | None = None
    sliding_window: PositiveInt | None = None
    layer_types: tuple[LayerType, ...] | None = None
    max_position_embeddings: PositiveInt | None = None
    num_nextn_predict_layers: int = Field(default=0, ge=0)
    torch_dtype: str | None = None
    native_weight_quant: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        heads = data.get("num_attention_heads")
        if data.get("num_key_value_heads") is None:
            data["num_key_value_heads"] = heads
        if data.get("head_dim") is None:
            mla = data.get("mla")
            if isinstance(mla, MlaSpec):
                data["head_dim"] = mla.qk_nope_head_dim + mla.qk_rope_head_dim
            elif isinstance(mla, dict):
                data["head_dim"] = mla.get("qk_nope_head_dim", 0) + mla.get("qk_rope_head_dim", 0)
            elif isinstance(heads, int) and heads > 0 and isinstance(data.get("hidden_size"), int):
                data["head_dim"] = data["hidden_size"] // heads
        return data

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.mla is None and self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )
        if self.layer_types is not None:
            if len(self.layer_types) != self.num_hidden_layers:
                raise ValueError(
                    f"layer_types has {len(self.layer_types)} entries, "
                    f"num_hidden_layers={self.num_hidden_layers}"
                )
            if "sliding_attention" in self.layer_types and self.sliding_window is None:
                raise ValueError(
                    "layer_types has sliding_attention layers but sliding_window is unset"
                )
        if self.moe is not None:
            _at_most("moe.num_dense_layers", self.moe.num_dense_layers, "num_hidden_layers", self.num_hidden_layers)
        if self.num_dense_layers > 0 and self.intermediate_size == 0:
            raise ValueError(
                f"intermediate_size must be > 0: the model has {self.num_dense_layers} dense layers"
            )
        return self

    @property
    def is_moe(self) -> bool:
        """True when the model has a mixture-of-experts block."""
        return self.moe is not None

    @property
    def num_dense_layers(self) -> int:
        """Layers with a dense FFN (all of them for a dense model)."""
        return self.moe.num_dense_layers if self.moe is not None else self.num_hidden_layers

    @property
    def num_moe_layers(self) -> int:
        """Layers whose FFN is the MoE block (0 for a dense model)."""
        return self.num_hidden_layers - self.num_dense_layers

    @property
    def num_sliding_layers(self) -> int:
        """Layers whose attention is capped at ``sliding_window`` tokens."""
        if self.sliding_window is None:
            return 0
        if self.layer_types is None:
            return self.num_hidden_layers
        return sum(kind == "sliding_attention" for kind in self.layer_types)

    @property
    def num_full_attention_layers(self) -> int:
        """Layers attending to the whole context."""
        return self.num_hidden_layers - self.num_sliding_layers
