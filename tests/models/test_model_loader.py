"""Loader: family-specific layouts from synthetic configs, and one-line errors for bad input."""

import json

import pytest

from models.catalogue import DATA_DIR, model
from models.counts import kv_bytes_per_sequence, param_breakdown
from models.errors import ModelError
from models.hf import load_hf_config


def _cfg(name: str) -> dict:
    return json.loads((DATA_DIR / f"{name}.json").read_text())


def _write(tmp_path, cfg_or_text, name="config.json"):
    path = tmp_path / name
    path.write_text(cfg_or_text if isinstance(cfg_or_text, str) else json.dumps(cfg_or_text, indent=2))
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_qwen_mlp_only_layers_and_sparse_step():
    cfg = _cfg("qwen3-30b-a3b")  # 48 layers
    cfg.update(mlp_only_layers=[0, 1], decoder_sparse_step=2)
    spec = load_hf_config(cfg)
    # MoE where i not in {0, 1} and (i + 1) % 2 == 0: i = 3, 5, ..., 47 -> 23 MoE, 25 dense
    assert (spec.num_moe_layers, spec.num_dense_layers) == (23, 25)
    assert param_breakdown(spec).dense_ffn_per_layer == 3 * 2048 * 6144  # intermediate_size now used


def test_deepseek_moe_layer_freq():
    cfg = _cfg("deepseek-v3")  # 61 layers, first_k_dense_replace 3
    cfg["moe_layer_freq"] = 2
    # MoE where i >= 3 and i % 2 == 0: i = 4, 6, ..., 60 -> 29 MoE layers
    assert load_hf_config(cfg).num_moe_layers == 29


def test_use_sliding_window_false_disables_window():
    cfg = _cfg("qwen3-32b")
    cfg.update(sliding_window=4096, use_sliding_window=False)
    assert load_hf_config(cfg).sliding_window is None


def test_qwen_max_window_layers_makes_later_layers_slide():
    cfg = _cfg("qwen3-32b")  # 64 layers, 8 KV heads x 128
    cfg.update(sliding_window=4096, use_sliding_window=True, max_window_layers=60)
    spec = load_hf_config(cfg)
    assert (spec.num_full_attention_layers, spec.num_sliding_layers) == (60, 4)
    # 8,192 tokens: (60 x 8,192 + 4 x 4,096) layer-tokens x 2 x 8 x 128 x 1 byte = 1,040,187,392
    assert kv_bytes_per_sequence(spec, 8192, 1.0) == (60 * 8192 + 4 * 4096) * 2048 == 1_040_187_392


def test_mistral_style_window_without_layer_types_slides_everywhere():
    cfg = _cfg("mixtral-8x7b")
    cfg["sliding_window"] = 4096
    spec = load_hf_config(cfg)
    assert spec.num_sliding_layers == 32 and spec.layer_types is None


def test_head_dim_defaults_to_hidden_over_heads():
    spec = model("llama-3.1-8b")  # config has no head_dim: 4096 / 32 = 128
    assert spec.head_dim == 128


def test_text_config_is_unwrapped():
    cfg = {"model_type": "wrapper", "text_config": _cfg("llama-3.1-8b")}
    assert load_hf_config(cfg).hidden_size == 4096


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = _write(tmp_path, '{\n  "hidden_size": 4096,,\n}')
    with pytest.raises(ModelError) as exc:
        load_hf_config(path)
    msg = _one_line(exc)
    assert msg.startswith(f"{path}:2:")
    assert "malformed JSON" in msg


def test_missing_hidden_size_names_the_key(tmp_path):
    cfg = _cfg("llama-3.1-8b")
    del cfg["hidden_size"]
    path = _write(tmp_path, cfg)
    with pytest.raises(ModelError) as exc:
        model(str(path))
    assert _one_line(exc) == f"{path}: missing required key 'hidden_size'; add it (an integer >= 1)"


@pytest.mark.parametrize(("key", "value"), [("num_hidden_layers", -2), ("vocab_size", 0), ("hidden_size", "4k")])
def test_non_positive_or_non_integer_size_names_the_field(tmp_path, key, value):
    cfg = _cfg("llama-3.1-8b")
    cfg[key] = value
    path = _write(tmp_path, cfg)
    with pytest.raises(ModelError) as exc:
        load_hf_config(path)
    assert _one_line(exc) == f"{path}: field '{key}' must be an integer >= 1, got {value!r}; fix the value"


def test_negative_expert_width_is_rejected(tmp_path):
    cfg = _cfg("qwen3-30b-a3b")
    cfg["moe_intermediate_size"] = -768
    path = _write(tmp_path, cfg)
    with pytest.raises(ModelError, match=r"field 'moe_intermediate_size' must be an integer >= 1, got -768"):
        load_hf_config(path)


def test_inconsistent_fields_give_one_line(tmp_path):
    cfg = _cfg("mixtral-8x7b")
    cfg["num_experts_per_tok"] = 9  # more than the 8 experts
    path = _write(tmp_path, cfg)
    with pytest.raises(ModelError) as exc:
        load_hf_config(path)
    msg = _one_line(exc)
    assert msg.startswith(f"{path}:") and "num_experts_per_tok=9 exceeds num_experts=8" in msg


def test_heads_must_be_a_multiple_of_kv_heads(tmp_path):
    cfg = _cfg("llama-3.1-8b")
    cfg["num_key_value_heads"] = 5
    with pytest.raises(ModelError, match="num_attention_heads=32 is not a multiple of num_key_value_heads=5"):
        load_hf_config(_write(tmp_path, cfg))


def test_layer_types_length_is_checked(tmp_path):
    cfg = _cfg("gpt-oss-20b")
    cfg["layer_types"] = cfg["layer_types"][:-1]
    with pytest.raises(ModelError, match="layer_types has 23 entries, num_hidden_layers=24"):
        load_hf_config(_write(tmp_path, cfg))


def test_unknown_layer_type_names_the_field(tmp_path):
    cfg = _cfg("gpt-oss-20b")
    cfg["layer_types"][3] = "linear_attention"
    with pytest.raises(ModelError, match=r"field 'layer_types\.3'"):
        load_hf_config(_write(tmp_path, cfg))


def test_unknown_name_suggests_closest():
    with pytest.raises(ModelError) as exc:
        model("qwen3-253b-a22b")
    msg = _one_line(exc)
    assert msg.startswith("unknown model 'qwen3-253b-a22b'; closest: ")
    assert "qwen3-235b-a22b" in msg


def test_unknown_hf_id_suggests_closest():
    with pytest.raises(ModelError, match=r"closest: .*deepseek-ai/deepseek-v3"):
        model("deepseek-ai/DeepSeek-V4")


def test_missing_path_is_reported(tmp_path):
    missing = tmp_path / "nope" / "config.json"
    with pytest.raises(ModelError) as exc:
        model(str(missing))
    assert _one_line(exc) == f"{missing}: no such file; give a path to a HF config.json"


def test_top_level_must_be_an_object(tmp_path):
    with pytest.raises(ModelError, match="top level is a JSON list"):
        load_hf_config(_write(tmp_path, "[1, 2]"))
