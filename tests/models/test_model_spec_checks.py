"""`ModelSpec`, `MoeSpec` and `MlaSpec` are frozen records (`specbase.checks.spec`) whose declared checks run
whenever one is built, by a loader, in code, or by ``dataclasses.replace``: one bad value per bound, each
message in full; the defaults filled in from other fields; the checks across fields; equality and hashing,
which the planner's caches key on."""

import dataclasses

import pytest

from models.catalogue import model
from models.spec import MlaSpec, ModelSpec, MoeSpec
from specbase.checks import FieldError

# Llama-3.1-8B's config.json (models/data/llama-3.1-8b.json): 4096 wide, 32 layers, 32 query and 8 KV heads
LLAMA = dict(name="llama", source="test", model_type="llama", hidden_size=4096, num_hidden_layers=32,
             num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336, vocab_size=128256)
# Qwen3-30B-A3B's MoE block: 128 experts, top-8, 768 wide
MOE = dict(num_experts=128, num_experts_per_tok=8, moe_intermediate_size=768)
# DeepSeek-V3's MLA block (models/data/deepseek-v3.json)
MLA = dict(kv_lora_rank=512, q_lora_rank=1536, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128)


@pytest.mark.parametrize("changes, message", [
    ({"hidden_size": 0}, "field 'hidden_size' must be > 0 (got 0)"),
    ({"num_hidden_layers": -2}, "field 'num_hidden_layers' must be > 0 (got -2)"),
    ({"num_attention_heads": 0}, "field 'num_attention_heads' must be > 0 (got 0)"),
    ({"num_key_value_heads": 0}, "field 'num_key_value_heads' must be > 0 (got 0)"),
    ({"head_dim": 0}, "field 'head_dim' must be > 0 (got 0)"),
    ({"intermediate_size": -1}, "field 'intermediate_size' must be >= 0 (got -1)"),
    ({"vocab_size": 0}, "field 'vocab_size' must be > 0 (got 0)"),
    ({"sliding_window": 0}, "field 'sliding_window' must be > 0 (got 0)"),
    ({"max_position_embeddings": 0}, "field 'max_position_embeddings' must be > 0 (got 0)"),
    ({"num_nextn_predict_layers": -1}, "field 'num_nextn_predict_layers' must be >= 0 (got -1)"),
    ({"hidden_size": 4096.5}, "field 'hidden_size' must be an integer (got 4096.5)"),
    ({"hidden_size": "4k"}, "field 'hidden_size' must be an integer (got '4k')"),
    ({"hidden_size": True}, "field 'hidden_size' must be an integer (got True)"),
    ({"hidden_size": None}, "field 'hidden_size' is required; give an integer"),
    ({"name": ""}, "field 'name' must not be empty; give the model a name"),
    ({"name": 7}, "field 'name' must be a string (got 7)"),
    ({"model_type": None}, "field 'model_type' is required; give a string"),
    ({"qk_norm": "yes"}, "field 'qk_norm' must be true or false (got 'yes')"),
    ({"torch_dtype": 16}, "field 'torch_dtype' must be a string (got 16)"),
    ({"layer_types": ["full_attention"] * 3 + ["linear_attention"] + ["full_attention"] * 28},
     "field 'layer_types.3' must be one of 'sliding_attention', 'full_attention' (got 'linear_attention')"),
    ({"layer_types": "full_attention"},
     "field 'layer_types' must be a list of sliding_attention or full_attention (got 'full_attention')"),
    ({"moe": 8}, "field 'moe' must be a MoeSpec or a table of its fields (got 8)"),
    ({"moe": {**MOE, "num_experts": 0}}, "field 'moe.num_experts' must be > 0 (got 0)"),
    ({"mla": {**MLA, "v_head_dim": 0}}, "field 'mla.v_head_dim' must be > 0 (got 0)"),
    # 64 // 128 = 0: a head width the default cannot give
    ({"hidden_size": 64, "num_attention_heads": 128, "num_key_value_heads": 128},
     "field 'head_dim' must be > 0 (got 0: hidden_size // num_attention_heads); give it"),
    # checks across fields: a ValueError naming both
    ({"num_key_value_heads": 5}, "num_attention_heads=32 is not a multiple of num_key_value_heads=5"),
    ({"layer_types": ("full_attention",) * 31}, "layer_types has 31 entries, num_hidden_layers=32"),
    ({"layer_types": ("sliding_attention",) * 32},
     "layer_types has sliding_attention layers but sliding_window is unset"),
    ({"moe": {**MOE, "num_dense_layers": 33}}, "moe.num_dense_layers=33 exceeds num_hidden_layers=32"),
    ({"moe": {**MOE, "num_dense_layers": 2}, "intermediate_size": 0},
     "intermediate_size must be > 0: the model has 2 dense layers"),
])
def test_model_field_bounds_and_checks_across_fields(changes, message):
    with pytest.raises(ValueError) as caught:
        ModelSpec(**{**LLAMA, **changes})
    assert str(caught.value) == message
    assert isinstance(caught.value, FieldError) == message.startswith("field '")  # one field, or several


@pytest.mark.parametrize("changes, message", [
    ({"num_experts": 0}, "field 'num_experts' must be > 0 (got 0)"),
    ({"num_experts_per_tok": 0}, "field 'num_experts_per_tok' must be > 0 (got 0)"),
    ({"moe_intermediate_size": -768}, "field 'moe_intermediate_size' must be > 0 (got -768)"),
    ({"num_shared_experts": -1}, "field 'num_shared_experts' must be >= 0 (got -1)"),
    ({"shared_expert_intermediate_size": -1}, "field 'shared_expert_intermediate_size' must be >= 0 (got -1)"),
    ({"num_dense_layers": -1}, "field 'num_dense_layers' must be >= 0 (got -1)"),
    ({"expert_bias": 1}, "field 'expert_bias' must be true or false (got 1)"),
    ({"num_experts_per_tok": 129}, "num_experts_per_tok=129 exceeds num_experts=128"),
    ({"num_shared_experts": 1, "shared_expert_intermediate_size": 0},
     "num_shared_experts=1 but shared_expert_intermediate_size is 0"),
])
def test_moe_bounds_and_checks(changes, message):
    with pytest.raises(ValueError) as caught:
        MoeSpec(**{**MOE, **changes})
    assert str(caught.value) == message


@pytest.mark.parametrize("field", ["kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                   "v_head_dim"])
def test_mla_widths_are_positive(field):
    with pytest.raises(FieldError) as caught:
        MlaSpec(**{**MLA, field: 0})
    assert str(caught.value) == f"field '{field}' must be > 0 (got 0)"


def test_defaults_filled_from_other_fields():
    bare = ModelSpec(**{**LLAMA, "num_key_value_heads": None})
    assert bare.num_key_value_heads == 32  # no KV heads given: one per query head (MHA)
    assert bare.head_dim == 128  # 4096 // 32
    mla = ModelSpec(**{**LLAMA, "mla": MLA})
    assert mla.head_dim == 192 and isinstance(mla.mla, MlaSpec)  # 128 nope + 64 rope
    # DeepSeek builds its shared experts as one MLP of n_shared x expert width: 1 x 2048
    assert MoeSpec(num_experts=256, num_experts_per_tok=8, moe_intermediate_size=2048,
                   num_shared_experts=1).shared_expert_intermediate_size == 2048
    assert MoeSpec(**MOE).shared_expert_intermediate_size == 0  # no shared expert
    # lax integers, as the loaders give them: an integral float kept as int, a list of layer kinds as a tuple
    spec = ModelSpec(**{**LLAMA, "hidden_size": 4096.0, "sliding_window": 128,
                        "layer_types": ["sliding_attention", "full_attention"] * 16})
    assert type(spec.hidden_size) is int and type(spec.layer_types) is tuple
    assert spec.num_sliding_layers == 16 and spec.num_full_attention_layers == 16


def test_unknown_field_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword argument 'hidden_sise'"):
        ModelSpec(**LLAMA, hidden_sise=4096)


def test_replace_checks_again_and_equal_specs_hash_alike():
    spec = ModelSpec(**LLAMA)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.hidden_size = 1  # type: ignore[misc]
    assert dataclasses.replace(spec, num_hidden_layers=80).num_hidden_layers == 80
    with pytest.raises(FieldError, match=r"^field 'vocab_size' must be > 0 \(got 0\)$"):
        dataclasses.replace(spec, vocab_size=0)
    with pytest.raises(ValueError, match="num_attention_heads=32 is not a multiple of num_key_value_heads=6"):
        dataclasses.replace(spec, num_key_value_heads=6)
    twin = ModelSpec(**LLAMA)
    assert twin == spec and hash(twin) == hash(spec) and len({spec, twin}) == 1
    assert dataclasses.replace(spec, name="other") != spec
    ds = model("deepseek-v3")  # nested MoE and MLA specs hash as part of the model
    assert ds == dataclasses.replace(ds) and hash(ds) == hash(dataclasses.replace(ds))
    assert hash(ds.moe) == hash(MoeSpec(**dataclasses.asdict(ds.moe)))
