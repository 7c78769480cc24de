"""Build a :class:`~models.spec.ModelSpec` from a Hugging Face ``config.json``.

The loader picks the keys it needs and ignores the rest (real configs carry dozens of
training-time keys), so any published config loads as it is. Each family spells the MoE
block differently; the aliases below are read from the configs shipped in ``models/data``:

* routed experts: ``n_routed_experts`` (DeepSeek, Kimi), ``num_local_experts`` (Mixtral,
  gpt-oss), ``num_experts`` (Qwen-MoE);
* top-k: ``num_experts_per_tok``, or ``experts_per_token`` (gpt-oss);
* expert width: ``moe_intermediate_size``, else ``intermediate_size`` (Mixtral, gpt-oss);
* dense layers: DeepSeek's ``first_k_dense_replace`` and ``moe_layer_freq``; Qwen's
  ``mlp_only_layers`` and ``decoder_sparse_step``; otherwise every layer is MoE.

Multimodal configs that nest the language model under ``text_config`` load that part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.errors import ModelError
from models.spec import MlaSpec, ModelSpec, MoeSpec

# Families whose dense FFN is two matrices (up, down) with a plain activation, not SwiGLU.
_NON_GATED_MODEL_TYPES = frozenset({"gpt_neox", "phi", "starcoder2"})
# Families with a per-head RMSNorm on queries and keys (HF Qwen3Attention.q_norm/k_norm).
_QK_NORM_MODEL_TYPES = frozenset({"qwen3", "qwen3_moe", "gemma3_text"})
_REQUIRED_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


def load_hf_config(
    path_or_dict: str | Path | Mapping[str, Any],
    name: str | None = None,
    source: str | None = None,
) -> ModelSpec:
    """Read an HF ``config.json`` (a file, a folder holding one, or a parsed dict).

    Args:
        path_or_dict: path to ``config.json`` or to its folder, or the parsed mapping.
        name: model name; defaults to the folder name (for ``config.json``), the file stem,
            or the dict's ``_name_or_path`` / ``model_type``.
        source: provenance; defaults to the resolved file path, or ``"dict"``.

    Returns:
        The frozen spec.

    Raises:
        ModelError: unreadable or malformed file, missing key, non-positive or non-integer
            size, or inconsistent fields; one line naming the file and the field.
    """
    if isinstance(path_or_dict, Mapping):
        cfg = dict(path_or_dict)
        label = name or str(cfg.get("_name_or_path") or "<dict>")
        default_name = str(cfg.get("_name_or_path") or cfg.get("model_type") or "model")
        default_source = "dict"
    else:
        path = Path(path_or_dict)
        if path.is_dir():
            path = path / "config.json"
        cfg = _read_json(path)
        label = str(path)
        default_name = path.parent.name if path.name == "config.json" else path.stem
        default_source = str(path.resolve())
    if "hidden_size" not in cfg and isinstance(cfg.get("text_config"), Mapping):
        cfg = {**cfg, **cfg["text_config"]}
    try:
        fields = _fields(cfg, label)
        return ModelSpec(name=name or default_name, source=source or default_source, **fields)
    except ValueError as exc:  # a field check (specbase.checks.FieldError names the field) or a check across fields
        raise ModelError(f"{label}: {exc}; fix the config") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file; give a path to a HF config.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read ({exc}); check the file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"{path}:{exc.lineno}:{exc.colno}: malformed JSON ({exc.msg}); fix the syntax there"
        ) from None
    except RecursionError:
        raise ModelError(f"{path}: JSON nested too deeply to be a model config; fix the file") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: top level is a JSON {type(data).__name__}, expected an object")
    return data


# No model dimension comes near this; a larger one is a damaged file, and would overflow int64 sums.
MAX_DIMENSION = 2**31 - 1


def _int(cfg: Mapping[str, Any], key: str, label: str, *, minimum: int = 1) -> int:
    """``cfg[key]`` as an int in [``minimum``, ``MAX_DIMENSION``] (integral floats accepted)."""
    if cfg.get(key) is None:
        raise ModelError(f"{label}: missing required key '{key}'; add it (an integer >= {minimum})")
    value = cfg[key]
    ok = not isinstance(value, bool) and (
        isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    )
    if not ok or value < minimum:
        raise ModelError(
            f"{label}: field '{key}' must be an integer >= {minimum}, got {value!r}; fix the value"
        )
    if value > MAX_DIMENSION:
        raise ModelError(f"{label}: field '{key}' must be at most {MAX_DIMENSION:,}, got {value!r}; fix the value")
    return int(value)


def _int_list(cfg: Mapping[str, Any], key: str, label: str) -> list[int]:
    """``cfg[key]`` as a list of integers >= 0 (absent or null: empty)."""
    value = cfg.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                              for v in value):
        raise ModelError(f"{label}: field '{key}' must be a list of layer indices (integers >= 0), "
                         f"got {value!r}"[:200] + "; fix the value")
    return value


def _opt_int(cfg: Mapping[str, Any], key: str, label: str, *, minimum: int = 1) -> int | None:
    return None if cfg.get(key) is None else _int(cfg, key, label, minimum=minimum)


def _first_key(cfg: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if cfg.get(k) is not None), None)


def _fields(cfg: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Map HF keys to ``ModelSpec`` keyword arguments."""
    for key in _REQUIRED_KEYS:
        _int(cfg, key, label)
    model_type = str(cfg.get("model_type") or "unknown")
    num_layers = _int(cfg, "num_hidden_layers", label)
    mla = _mla(cfg, label)
    moe = _moe(cfg, label, model_type, num_layers)
    needs_dense = moe is None or moe.num_dense_layers > 0
    if needs_dense:
        intermediate = _int(cfg, "intermediate_size", label)
    else:
        intermediate = _opt_int(cfg, "intermediate_size", label, minimum=0) or 0
    head_dim = None if mla is not None else _opt_int(cfg, "head_dim", label)
    sliding_window, layer_types = _attention_pattern(cfg, label, num_layers)
    quant = cfg.get("quantization_config")
    mtp_layers = _opt_int(cfg, "num_nextn_predict_layers", label, minimum=0)
    return {
        "model_type": model_type,
        "hidden_size": _int(cfg, "hidden_size", label),
        "num_hidden_layers": num_layers,
        "num_attention_heads": _int(cfg, "num_attention_heads", label),
        "num_key_value_heads": _opt_int(cfg, "num_key_value_heads", label),
        "head_dim": head_dim,
        "intermediate_size": intermediate,
        "vocab_size": _int(cfg, "vocab_size", label),
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "attention_bias": bool(cfg.get("attention_bias", False)),
        "mlp_bias": bool(cfg.get("mlp_bias", False)),
        "mlp_gated": model_type not in _NON_GATED_MODEL_TYPES,
        "qk_norm": model_type in _QK_NORM_MODEL_TYPES,
        "attention_sinks": model_type == "gpt_oss",
        "moe": moe,
        "mla": mla,
        "sliding_window": sliding_window,
        "layer_types": layer_types,
        "max_position_embeddings": _opt_int(cfg, "max_position_embeddings", label),
        "num_nextn_predict_layers": mtp_layers or 0,
        "torch_dtype": cfg.get("torch_dtype") or cfg.get("dtype"),
        "native_weight_quant": quant.get("quant_method") if isinstance(quant, Mapping) else None,
        "block_scaled_fp8": isinstance(quant, Mapping) and quant.get("quant_method") == "fp8"
        and bool(quant.get("weight_block_size")),
    }


def _mla(cfg: Mapping[str, Any], label: str) -> MlaSpec | None:
    if cfg.get("kv_lora_rank") is None:
        return None
    return MlaSpec(
        kv_lora_rank=_int(cfg, "kv_lora_rank", label),
        q_lora_rank=_opt_int(cfg, "q_lora_rank", label),
        qk_nope_head_dim=_int(cfg, "qk_nope_head_dim", label),
        qk_rope_head_dim=_int(cfg, "qk_rope_head_dim", label),
        v_head_dim=_int(cfg, "v_head_dim", label),
    )


def _moe(cfg: Mapping[str, Any], label: str, model_type: str, num_layers: int) -> MoeSpec | None:
    experts_key = _first_key(cfg, ("n_routed_experts", "num_local_experts", "num_experts"))
    if experts_key is None or cfg[experts_key] == 0:
        return None
    num_experts = _int(cfg, experts_key, label)
    top_k_key = _first_key(cfg, ("num_experts_per_tok", "experts_per_token"))
    width_key = _first_key(cfg, ("moe_intermediate_size", "intermediate_size"))
    top_k_key = top_k_key or "num_experts_per_tok"  # absent: _int reports the canonical key
    width_key = width_key or "moe_intermediate_size"
    width = _int(cfg, width_key, label)
    num_shared, shared_width, shared_gate = 0, None, False
    if cfg.get("n_shared_experts"):  # DeepSeek: one MLP of n_shared_experts * expert width
        num_shared = _int(cfg, "n_shared_experts", label)
    elif cfg.get("shared_expert_intermediate_size"):  # Qwen2-MoE: one gated shared expert
        num_shared, shared_gate = 1, True
        shared_width = _int(cfg, "shared_expert_intermediate_size", label)
    return MoeSpec(
        num_experts=num_experts,
        num_experts_per_tok=_int(cfg, top_k_key, label),
        moe_intermediate_size=width,
        num_shared_experts=num_shared,
        shared_expert_intermediate_size=shared_width,
        num_dense_layers=num_layers - sum(_moe_layer_mask(cfg, label, num_layers)),
        expert_gated=True,
        expert_bias=model_type == "gpt_oss",
        router_bias=model_type == "gpt_oss" or cfg.get("topk_method") == "noaux_tc",
        shared_expert_gate=shared_gate,
    )


def _moe_layer_mask(cfg: Mapping[str, Any], label: str, num_layers: int) -> list[bool]:
    """Which layers carry the MoE block (HF DeepseekV3DecoderLayer, Qwen3MoeDecoderLayer)."""
    if "first_k_dense_replace" in cfg or "moe_layer_freq" in cfg:
        first_dense = _opt_int(cfg, "first_k_dense_replace", label, minimum=0) or 0
        freq = _opt_int(cfg, "moe_layer_freq", label) or 1
        return [i >= first_dense and i % freq == 0 for i in range(num_layers)]
    if "decoder_sparse_step" in cfg or "mlp_only_layers" in cfg:
        step = _opt_int(cfg, "decoder_sparse_step", label) or 1
        dense_only = set(_int_list(cfg, "mlp_only_layers", label))
        return [i not in dense_only and (i + 1) % step == 0 for i in range(num_layers)]
    return [True] * num_layers


def _attention_pattern(
    cfg: Mapping[str, Any], label: str, num_layers: int
) -> tuple[int | None, tuple[str, ...] | None]:
    """``(sliding_window, layer_types)``; Qwen's ``use_sliding_window: false`` disables it."""
    if cfg.get("use_sliding_window") is False:
        return None, None
    window = _opt_int(cfg, "sliding_window", label)
    layer_types = cfg.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or not all(isinstance(t, str) for t in layer_types):
            raise ModelError(f"{label}: field 'layer_types' must be a list of strings, got {layer_types!r}"[:200])
        return window, tuple(layer_types)
    if window is not None and cfg.get("use_sliding_window") and "max_window_layers" in cfg:
        # HF Qwen2Attention: layers from max_window_layers on use the window.
        first = _int(cfg, "max_window_layers", label, minimum=0)
        kinds = ["full_attention" if i < first else "sliding_attention" for i in range(num_layers)]
        return window, tuple(kinds)
    return window, None
