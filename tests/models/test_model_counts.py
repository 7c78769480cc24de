"""Hand-computed KV, FLOP and seed-approximation cases, and properties of the closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.catalogue import model
from models.counts import (
    SeedMoeApproximation,
    active_params,
    attention_flops_per_pair,
    attention_flops_per_token,
    causal_pairs,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    kv_bytes_per_token_per_layer,
    linear_flops_per_token,
    prefill_attention_flops,
    total_params,
    weight_bytes,
)

BF16_BYTES = 2.0


def test_kv_bytes_llama_70b_bf16():
    # GQA: 80 layers x 2 (K and V) x 8 KV heads x 128 head_dim x 2 bytes = 327,680
    assert kv_bytes_per_token(model("llama-3.1-70b"), BF16_BYTES) == 327_680
    assert kv_bytes_per_token_per_layer(model("llama-3.1-70b"), BF16_BYTES) == 4_096  # 2 x 8 x 128 x 2


def test_kv_bytes_deepseek_v3_bf16_mla():
    # MLA: 61 layers x (512 kv_lora_rank + 64 qk_rope_head_dim) x 2 bytes = 70,272
    assert kv_bytes_per_token(model("deepseek-v3"), BF16_BYTES) == 70_272


def test_kv_bytes_vectorised_over_dtype():
    # fp8 and bf16 at once: 327,680 x (1, 2) / 2
    got = kv_bytes_per_token(model("llama-3.1-70b"), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(got, [163_840, 327_680])


def test_gpt_oss_sliding_window_kv_at_10k_tokens():
    spec = model("gpt-oss-120b")
    per_layer = 2 * 8 * 64 * BF16_BYTES  # 2 (K,V) x 8 KV heads x 64 head_dim x 2 bytes = 2,048
    # 18 full layers keep 10,000 tokens; 18 sliding layers keep their 128-token window
    expected = (18 * 10_000 + 18 * 128) * per_layer  # 182,304 layer-tokens x 2,048 = 373,358,592
    assert kv_bytes_per_sequence(spec, 10_000, BF16_BYTES) == expected == 373_358_592
    # below the window every layer keeps all tokens: 36 x 100 x 2,048 = 7,372,800
    assert kv_bytes_per_sequence(spec, 100, BF16_BYTES) == 7_372_800
    # no window cap in the per-token figure: 36 x 2,048 = 73,728
    assert kv_bytes_per_token(spec, BF16_BYTES) == 73_728


def test_kv_bytes_per_sequence_vectorised():
    spec = model("llama-3.1-8b")
    ctx = np.array([0, 1, 1024, 131_072])
    # 32 layers x 2 x 8 x 128 x 2 bytes = 131,072 bytes per token
    np.testing.assert_array_equal(kv_bytes_per_sequence(spec, ctx, BF16_BYTES), ctx * 131_072)


def test_seed_moe_approximation_qwen3_235b():
    spec = model("qwen3-235b-a22b")
    total = total_params(spec)  # 235,093,634,560
    seed = SeedMoeApproximation()
    # seed Note 2: total x (0.12 + 0.88 x 8 / 128) = total x 0.175
    assert active_params(spec, seed) == pytest.approx(total * (0.12 + 0.88 * 8 / 128), rel=1e-12)
    assert active_params(spec, seed) == pytest.approx(41.14e9, rel=1e-3)  # 235.09e9 x 0.175
    assert linear_flops_per_token(spec, seed) == 2 * active_params(spec, seed)


def test_seed_moe_approximation_leaves_dense_models_alone():
    spec = model("llama-3.1-8b")
    assert active_params(spec, SeedMoeApproximation()) == total_params(spec)


def test_seed_fractions_are_range_checked():
    with pytest.raises(ValueError, match="expert_param_fraction"):
        SeedMoeApproximation(expert_param_fraction=1.5)


def test_linear_flops_is_twice_active():
    for name in ("llama-3.1-8b", "deepseek-v3", "gpt-oss-120b"):
        spec = model(name)
        assert linear_flops_per_token(spec) == 2 * active_params(spec)
    # Llama-3.1-8B: 2 x 8,030,261,248 = 16,060,522,496 FLOPs per token
    assert linear_flops_per_token(model("llama-3.1-8b")) == 16_060_522_496


def test_weight_bytes():
    # Llama-3.1-8B in bf16: 8,030,261,248 x 2 = 16,060,522,496 bytes; fp8 and fp4 at once
    spec = model("llama-3.1-8b")
    assert weight_bytes(spec, 2.0) == 16_060_522_496
    np.testing.assert_array_equal(weight_bytes(spec, np.array([1.0, 0.5])), [8_030_261_248, 4_015_130_624])


def test_attention_flops_llama_8b_at_1024():
    # 32 layers x 4 (QK^T and AV, 2 FLOPs per MAC) x 32 heads x 128 head_dim x 1024 tokens
    assert attention_flops_per_token(model("llama-3.1-8b"), 1024) == 32 * 4 * 32 * 128 * 1024 == 536_870_912


def test_attention_flops_deepseek_mla_absorbed():
    # per layer per cached token: 2 x 128 heads x (512 + 64) + 2 x 128 x 512 = 278,528
    # 61 layers x 278,528 x 4096 tokens = 69,592,121,344
    assert attention_flops_per_token(model("deepseek-v3"), 4096) == 61 * 278_528 * 4096 == 69_591_891_968


def test_attention_flops_gpt_oss_window():
    # per layer per token: 4 x 64 heads x 64 head_dim = 16,384
    # 18 full layers x 10,000 + 18 sliding x 128 = 182,304 layer-tokens -> 2,986,868,736
    assert attention_flops_per_token(model("gpt-oss-120b"), 10_000) == 16_384 * 182_304 == 2_986_868_736


def test_attention_flops_vectorised_and_shape_preserving():
    spec = model("gpt-oss-20b")
    ctx = np.array([[0, 64], [128, 5000]])
    got = attention_flops_per_token(spec, ctx)
    assert got.shape == (2, 2)
    expected = [[float(attention_flops_per_token(spec, c)) for c in row] for row in ctx]
    np.testing.assert_array_equal(got, expected)


def test_negative_context_is_rejected():
    with pytest.raises(ValueError, match="context_tokens must be >= 0"):
        kv_bytes_per_sequence(model("llama-3.1-8b"), np.array([10, -1]), BF16_BYTES)


def test_prefill_llama_8b_closed_form():
    # 1024 tokens, causal, diagonal excluded: 1024 x 1023 / 2 = 523,776 token pairs per layer
    # x 32 layers x 4 x 32 heads x 128 = 274,609,471,488 FLOPs
    assert prefill_attention_flops(model("llama-3.1-8b"), 1024) == 523_776 * 32 * 4 * 32 * 128


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["llama-3.1-8b", "gpt-oss-120b", "deepseek-v3", "qwen3-30b-a3b"]),
    n=st.integers(min_value=0, max_value=700),
)
def test_prefill_equals_explicit_sum(name, n):
    spec = model(name)
    explicit = attention_flops_per_token(spec, np.arange(n)).sum()  # sum_{i<n} flops(i)
    assert prefill_attention_flops(spec, n) == pytest.approx(explicit, rel=1e-12, abs=0)


def test_causal_pairs_convention():
    # Token i scores the i tokens before it (no diagonal): n (n - 1) / 2.
    assert causal_pairs(1024) == 523_776
    assert causal_pairs(1) == 0 and causal_pairs(0) == 0
    # A 128-token window: the first 129 tokens ramp 0..128 (129 x 128 / 2 = 8,256), the other
    # 895 score 128 each: 8,256 + 114,560 = 122,816.
    assert causal_pairs(1024, 128) == 122_816
    assert causal_pairs(100, 128) == causal_pairs(100)          # a window longer than the sequence
    np.testing.assert_array_equal(causal_pairs(np.array([0, 1, 2, 5])), [0, 0, 1, 10])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=3_000), w=st.integers(min_value=1, max_value=600))
def test_windowed_pairs_are_the_explicit_sum(n, w):
    assert causal_pairs(n, w) == sum(min(i, w) for i in range(n))


def test_per_pair_flops_absorbed_and_not():
    # GQA has one form: 4 x heads x head_dim (llama-3.1-8b: 4 x 32 x 128).
    llama = model("llama-3.1-8b")
    assert attention_flops_per_pair(llama) == attention_flops_per_pair(llama, absorbed=False) == 16_384
    # DeepSeek-V3 (128 heads): absorbed 2 x 128 x (512 + 64) + 2 x 128 x 512 = 278,528;
    # un-absorbed 2 x 128 x (128 + 64) + 2 x 128 x 128 = 81,920.
    ds = model("deepseek-v3")
    assert attention_flops_per_pair(ds) == 278_528
    assert attention_flops_per_pair(ds, absorbed=False) == 81_920
    assert prefill_attention_flops(ds, 10, absorbed=False) == 45 * 61 * 81_920   # 45 pairs x 61 layers


@settings(max_examples=30, deadline=None)
@given(ns=st.lists(st.integers(min_value=0, max_value=2_000), min_size=1, max_size=8))
def test_prefill_vectorised_matches_scalar(ns):
    spec = model("gpt-oss-120b")
    got = prefill_attention_flops(spec, np.array(ns))
    np.testing.assert_array_equal(got, [float(prefill_attention_flops(spec, n)) for n in ns])


@settings(max_examples=30, deadline=None)
@given(a=st.integers(0, 200_000), b=st.integers(0, 200_000))
def test_kv_and_attention_never_fall_as_context_grows(a, b):
    lo, hi = sorted((a, b))
    for name in ("gpt-oss-120b", "deepseek-v3"):
        spec = model(name)
        assert kv_bytes_per_sequence(spec, lo, 1.0) <= kv_bytes_per_sequence(spec, hi, 1.0)
        assert attention_flops_per_token(spec, lo) <= attention_flops_per_token(spec, hi)
