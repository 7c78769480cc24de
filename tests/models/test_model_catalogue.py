"""Catalogue: every entry loads and is range-checked; names, HF ids and paths resolve."""

import dataclasses
import hashlib
import json

import pytest

from models.catalogue import DATA_DIR, catalogue_entry, model, model_names, sources
from models.counts import total_params
from models.hf import load_hf_config

EXPECTED_NAMES = {
    "qwen3-235b-a22b", "qwen3-30b-a3b", "qwen3-32b", "deepseek-v3", "deepseek-r1", "kimi-k2",
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "gpt-oss-120b", "gpt-oss-20b",
    "mixtral-8x7b", "mixtral-8x22b",
}


def test_catalogue_lists_the_thirteen_models_and_their_files():
    assert set(model_names()) == EXPECTED_NAMES
    assert {p.stem for p in DATA_DIR.glob("*.json")} == EXPECTED_NAMES
    assert all(entry.file == f"{entry.name}.json" for entry in sources().model)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_entry_loads_and_is_in_range(name):
    spec = model(name)
    assert spec.name == name
    assert spec.source.startswith(f"https://huggingface.co/{catalogue_entry(name).hf_id}/")
    assert 1_000 <= spec.hidden_size <= 20_000
    assert 16 <= spec.num_hidden_layers <= 130
    assert spec.num_attention_heads % spec.num_key_value_heads == 0
    assert 30_000 <= spec.vocab_size <= 250_000
    assert 5e9 <= total_params(spec) <= 1.1e12
    if spec.moe is not None:
        assert spec.moe.num_experts_per_tok <= spec.moe.num_experts
        assert spec.num_dense_layers + spec.num_moe_layers == spec.num_hidden_layers


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes: sha1 of ``blob <size>\\0`` + the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_data_files_are_byte_identical_to_the_upstream_copies():
    # SOURCES.toml records the git blob id of each config as vendored in ai-dynamo/aiconfigurator
    # (at the snapshot commit); equal ids mean byte-identical files, so no edit has crept in.
    for entry in sources().model:
        assert git_blob_id((DATA_DIR / entry.file).read_bytes()).startswith(entry.git_blob), entry.name
        assert len(entry.git_blob) >= 12


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("qwen/qwen3-235b-a22b", "qwen3-235b-a22b"),
        ("Qwen/Qwen3-235B-A22B", "qwen3-235b-a22b"),
        ("DEEPSEEK-AI/DeepSeek-V3", "deepseek-v3"),
        ("moonshotai/kimi-k2-instruct", "kimi-k2"),
        ("meta-llama/Meta-Llama-3.1-8B", "llama-3.1-8b"),  # old repository name
        ("meta-llama/llama-3.1-405b", "llama-3.1-405b"),
        ("Mixtral-8x7B-v0.1", "mixtral-8x7b"),  # repository part only
        ("  GPT-OSS-120B ", "gpt-oss-120b"),
    ],
)
def test_names_and_hf_ids_resolve_case_insensitively(query, name):
    assert model(query) is model(name)


def test_a_path_loads(tmp_path):
    src = (DATA_DIR / "llama-3.1-8b.json").read_text()
    folder = tmp_path / "my-llama"
    folder.mkdir()
    (folder / "config.json").write_text(src)
    by_file = model(str(folder / "config.json"))
    by_dir = model(folder)
    assert by_file == by_dir
    assert by_file.name == "my-llama"
    assert by_file.source == str((folder / "config.json").resolve())
    # same architecture as the catalogue entry: 8,030,261,248 parameters
    assert total_params(by_file) == total_params(model("llama-3.1-8b")) == 8_030_261_248


def test_load_from_dict_with_name():
    cfg = json.loads((DATA_DIR / "qwen3-32b.json").read_text())
    spec = load_hf_config(cfg, name="q32", source="test")
    assert (spec.name, spec.source, spec.model_type) == ("q32", "test", "qwen3")


def test_specs_are_frozen():
    spec = model("llama-3.1-8b")
    with pytest.raises(dataclasses.FrozenInstanceError):  # a frozen record (specbase.checks.spec)
        spec.hidden_size = 1  # type: ignore[misc]


def test_parsed_fields_of_each_family():
    q = model("qwen3-235b-a22b")
    assert (q.moe.num_experts, q.moe.num_experts_per_tok, q.moe.moe_intermediate_size) == (128, 8, 1536)
    assert (q.num_dense_layers, q.num_moe_layers, q.moe.num_shared_experts) == (0, 94, 0)
    assert q.qk_norm and q.sliding_window is None and q.layer_types is None

    d = model("deepseek-v3")
    assert d.mla.kv_lora_rank == 512 and d.mla.q_lora_rank == 1536
    assert d.head_dim == 192  # MLA q/k width: qk_nope 128 + qk_rope 64
    assert d.moe.shared_expert_intermediate_size == 2048  # 1 shared x 2048
    assert d.native_weight_quant == "fp8" and d.block_scaled_fp8  # weight_block_size [128, 128]

    k = model("kimi-k2")
    assert (k.moe.num_experts, k.num_dense_layers, k.num_attention_heads) == (384, 1, 64)

    g = model("gpt-oss-120b")
    assert (g.moe.num_experts, g.moe.num_experts_per_tok) == (128, 4)
    assert g.attention_bias and g.attention_sinks and g.moe.expert_bias and g.moe.router_bias
    assert (g.sliding_window, g.num_sliding_layers, g.num_full_attention_layers) == (128, 18, 18)
    assert g.native_weight_quant == "mxfp4" and g.torch_dtype is None and not g.block_scaled_fp8

    m = model("mixtral-8x7b")
    assert (m.moe.num_experts, m.moe.num_experts_per_tok, m.moe.moe_intermediate_size) == (8, 2, 14336)
    assert m.sliding_window is None

    ll = model("llama-3.1-70b")
    assert ll.moe is None and ll.mla is None and (ll.num_dense_layers, ll.num_moe_layers) == (80, 0)
    assert ll.max_position_embeddings == 131_072
