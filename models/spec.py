"""Model specifications: the architecture facts the cost model needs, in Hugging Face names.

Field names follow ``config.json`` (``hidden_size``, ``num_key_value_heads``,
``num_experts_per_tok``, ``moe_intermediate_size``, ``kv_lora_rank``) so that a spec can be
diffed against the model card. Specs are normally built by :func:`models.hf.load_hf_config`,
which picks the keys it needs from a real config and ignores the rest; the classes here are
frozen records with declared field checks (`specbase.checks.spec`, no pydantic) that refuse
unknown fields, so a misspelt key in code fails loudly, and a wrong value raises
`specbase.checks.FieldError` (one line: ``field 'hidden_size' must be > 0 (got 0)``) or, for a
check across fields, a ``ValueError`` naming both.

A few fields are ours, derived by the loader rather than read from one HF key:
``mlp_gated``, ``qk_norm``, ``attention_sinks``, ``native_weight_quant`` and the MoE layout.
"""

from __future__ import annotations

from typing import Literal

from specbase.checks import FieldError, flag, integer, spec, text

LayerType = Literal["sliding_attention", "full_attention"]
LAYER_TYPES = ("sliding_attention", "full_attention")


def _at_most(name: str, value: int, limit_name: str, limit: int) -> None:
    """Raise ``ValueError("name=value exceeds limit_name=limit")`` when ``value > limit``."""
    if value > limit:
        raise ValueError(f"{name}={value} exceeds {limit_name}={limit}")


def _set(obj, name: str, value) -> None:
    """Fill a field of a frozen spec while it is built (its ``__post_init__``)."""
    obj.__dict__[name] = value


@spec
class MoeSpec:
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

    num_experts: int = integer(gt=0)
    num_experts_per_tok: int = integer(gt=0)
    moe_intermediate_size: int = integer(gt=0)
    num_shared_experts: int = integer(ge=0, default=0)
    shared_expert_intermediate_size: int = integer(ge=0, default=None)  # None: num_shared x width
    num_dense_layers: int = integer(ge=0, default=0)
    expert_gated: bool = flag(default=True)
    expert_bias: bool = flag(default=False)
    router_bias: bool = flag(default=False)
    shared_expert_gate: bool = flag(default=False)

    def __post_init__(self) -> None:
        if self.shared_expert_intermediate_size is None:
            _set(self, "shared_expert_intermediate_size", self.num_shared_experts * self.moe_intermediate_size)
        _at_most("num_experts_per_tok", self.num_experts_per_tok, "num_experts", self.num_experts)
        if self.num_shared_experts > 0 and self.shared_expert_intermediate_size == 0:
            raise ValueError(
                f"num_shared_experts={self.num_shared_experts} but "
                "shared_expert_intermediate_size is 0"
            )


@spec
class MlaSpec:
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

    kv_lora_rank: int = integer(gt=0)
    q_lora_rank: int | None = integer(gt=0, default=None)
    qk_nope_head_dim: int = integer(gt=0)
    qk_rope_head_dim: int = integer(gt=0)
    v_head_dim: int = integer(gt=0)


@spec
class ModelSpec:
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
        block_scaled_fp8: the released FP8 weights carry a scale per weight block (``quantization_config``'s
            ``weight_block_size``: DeepSeek-V3's 128 x 128), so the engines run them on block-scaled FP8 GEMMs.
    """

    name: str = text()  # not empty (checked below)
    source: str = text()
    model_type: str = text()
    hidden_size: int = integer(gt=0)
    num_hidden_layers: int = integer(gt=0)
    num_attention_heads: int = integer(gt=0)
    num_key_value_heads: int = integer(gt=0, default=None)  # None: num_attention_heads
    head_dim: int = integer(gt=0, default=None)  # None: from the MLA widths, else hidden_size // heads
    intermediate_size: int = integer(ge=0)
    vocab_size: int = integer(gt=0)
    tie_word_embeddings: bool = flag(default=False)
    attention_bias: bool = flag(default=False)
    mlp_bias: bool = flag(default=False)
    mlp_gated: bool = flag(default=True)
    qk_norm: bool = flag(default=False)
    attention_sinks: bool = flag(default=False)
    moe: MoeSpec | None = None  # a MoeSpec or its table (checked below)
    mla: MlaSpec | None = None
    sliding_window: int | None = integer(gt=0, default=None)
    layer_types: tuple[LayerType, ...] | None = None  # a sequence of LAYER_TYPES, kept as a tuple
    max_position_embeddings: int | None = integer(gt=0, default=None)
    num_nextn_predict_layers: int = integer(ge=0, default=0)
    torch_dtype: str | None = text(default=None)
    native_weight_quant: str | None = text(default=None)
    block_scaled_fp8: bool = flag(default=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise FieldError("name", "must not be empty; give the model a name")
        _set(self, "moe", _nested("moe", self.moe, MoeSpec))
        _set(self, "mla", _nested("mla", self.mla, MlaSpec))
        _set(self, "layer_types", _layer_types(self.layer_types))
        if self.num_key_value_heads is None:
            _set(self, "num_key_value_heads", self.num_attention_heads)
        if self.head_dim is None:
            mla = self.mla
            width = self.hidden_size // self.num_attention_heads if mla is None else \
                mla.qk_nope_head_dim + mla.qk_rope_head_dim
            if width <= 0:
                raise FieldError("head_dim", f"must be > 0 (got {width}: hidden_size // num_attention_heads); give it")
            _set(self, "head_dim", width)
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


def _nested(name: str, value, kind: type):
    """``value`` as a ``kind`` spec: itself, one built from its table, or None."""
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, dict):
        try:
            return kind(**value)
        except FieldError as exc:  # named from the model down: moe.num_experts
            raise FieldError(f"{name}.{exc.field}", exc.problem) from None
    raise FieldError(name, f"must be a {kind.__name__} or a table of its fields (got {value!r})")


def _layer_types(value) -> tuple[str, ...] | None:
    """``layer_types`` as a tuple of `LAYER_TYPES`; each entry named by its index when wrong."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise FieldError("layer_types", f"must be a list of {' or '.join(LAYER_TYPES)} (got {value!r})"[:200])
    for index, kind in enumerate(value):
        if kind not in LAYER_TYPES:
            raise FieldError(f"layer_types.{index}", f"must be one of {', '.join(map(repr, LAYER_TYPES))} "
                                                     f"(got {kind!r})")
    return tuple(value)
