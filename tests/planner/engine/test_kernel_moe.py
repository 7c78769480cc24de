"""The MoE-layer kernel curve (planner.engine.kernels.moe): arithmetic, bounds, loader, transfer."""

import math

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from planner import quant
from planner.engine.kernels import moe, tables
from planner.engine.profile import engine
from planner.engine.rates import rates

CAT = Catalogue()

# Round parameters for the hand case: 20 us launch, 1e15 FLOP/s, 4e12 B/s, 16 pad rows, 128-column
# thinness, blend 2, sharpness 1 (uniform choices), one routing pass, 1 us per expert shard, a 10 us
# batch path from 256 choices per step.
HAND = {"launch_s": 20e-6, "flop_per_s": 1e15, "bytes_per_s": 4e12, "pad_tokens": 16.0, "thin_inter": 128.0,
        "blend": 2.0, "hit_sharpness": 1.0, "permute_passes": 1.0, "expert_s": 1e-6, "path_s": 10e-6,
        "path_pairs": 256.0}


def test_one_layer_by_hand():
    # 64 tokens, top-8 of 128 experts (hidden 2048, inter 768), ep 2, moe_tp 1, bf16 (2 B).
    t = moe.layer_s(64.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 2.0, 2.0, HAND)
    # u = 64 x 8 / 128 = 4; hit share 1 - exp(-4) = 0.981684; 64 local experts -> 62.8278 hit on
    # average; the slower of 2 ranks: + sqrt(2 ln 2 x 62.8278 x 0.018316) = + 1.2632 = 64.09, capped at
    # its 64 experts.
    mean = 64 * (1 - math.exp(-4))
    assert mean == pytest.approx(62.8278, abs=1e-4)
    assert mean + math.sqrt(2 * math.log(2) * mean * math.exp(-4)) == pytest.approx(64.091, abs=1e-3)
    hits = 64
    shard = 3 * 2048 * 768  # 4,718,592 elements
    # Compute: 2 x shard x (64 x 8 / 2 = 256 rows + 62.83 x 16 pad) / 1e15 x (1 + 128 / 768).
    compute = 2 * shard * (256 + hits * 16) / 1e15 * (1 + 128 / 768)
    # Memory: 64 shards x max(4,718,592 x 2 B / 4e12 = 2.359 us, 1 us) = 151.0 us.
    memory = hits * max(shard * 2 / 4e12, 1e-6)
    assert memory == pytest.approx(151.0e-6, rel=1e-3)
    # Routing pass: 64 x 8 x 2048 x 2 B / 4e12 = 0.524 us; blend p = 2: sqrt(c^2 + m^2).
    permute = 64 * 8 * 2048 * 2 / 4e12
    # Batch path: 512 choices / 256 = 2 -> 2^8 / (1 + 2^8) = 256 / 257 of its 10 us.
    path = 10e-6 * 256 / 257
    assert t == pytest.approx(20e-6 + path + permute + math.hypot(compute, memory), rel=1e-12)


def test_batch_path_switch():
    # x^8 / (1 + x^8): off well below path_pairs, half at it, on above it.
    assert moe.path_switch(0.0) == 0.0
    assert moe.path_switch(0.5) == pytest.approx(1 / 257, rel=1e-12)
    assert moe.path_switch(1.0) == pytest.approx(0.5, rel=1e-12)
    assert moe.path_switch(2.0) == pytest.approx(256 / 257, rel=1e-12)
    assert moe.path_switch(1e9) == pytest.approx(1.0, rel=1e-12)
    # One token (8 choices) on the hand curve pays 8 / 256 = 2^-5 -> 2^-40 of the 10 us: the launch only.
    one = moe.layer_s(1.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 1.0, 2.0, HAND)
    no_path = moe.layer_s(1.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 1.0, 2.0, {**HAND, "path_s": 0.0})
    assert one - no_path == pytest.approx(10e-6 * 2.0**-40, rel=1e-6)


def test_hit_share_limits():
    # Few choices: about u (1 token, top-8 of 256: 8 / 256 = 0.03125 -> 0.03077 at s = 1).
    assert moe.hit_share(8 / 256, 1.0) == pytest.approx(1 - math.exp(-8 / 256), rel=1e-12)
    # Many choices: every expert; sharp: min(1, u).
    assert moe.hit_share(40.0, 1.0) == pytest.approx(1.0, abs=1e-12)
    assert moe.hit_share(0.5, 8.0) == pytest.approx(0.5, rel=1e-2)


def _shipped() -> list[tuple[str, str, str, dict]]:
    """Every shipped parameter set: each dtype's (the planner's), the per-kernel ones under ``kernels`` and the
    wide-EP kernel's under ``wide_ep``."""
    out = []
    for e, gpus in moe.table().items():
        for g, ds in gpus.items():
            out += [(e, g, d, p) for d, p in ds.items() if d not in ("kernels", moe.WIDE_EP)]
            out += [(e, g, f"{d} {k}", p) for d, ks in ds.get("kernels", {}).items() for k, p in ks.items()]
            out += [(e, g, f"{d} {moe.WIDE_EP}", p) for d, p in ds.get(moe.WIDE_EP, {}).items()]
    return out


def test_shipped_parameters_are_physical():
    entries = _shipped()
    # Kernel dtypes in moe_perf: SGLang 4 on each Hopper + 6 on each of 4 Blackwell systems = 32,
    # TensorRT-LLM 2 x 2 + 1 x 4 = 8, vLLM 5 x 2 + 7 x 4 = 38: 78 planner curves. Dtypes run on two or
    # three kernels get one set per kernel: SGLang 4 per Hopper (2 dtypes x 2), 6 per Blackwell system
    # (3 x 2); vLLM 4 per Hopper, 11 per Blackwell system (5 dtypes, one on three kernels): 84 more. SGLang's
    # wide-EP kernel (wideep_generation_moe_perf: fp8_block on each of the six systems): 6 more.
    assert len([x for x in entries if " " not in x[2]]) == 78
    assert len([x for x in entries if x[2].endswith(moe.WIDE_EP)]) == 6
    assert len(entries) == 78 + 84 + 6
    for e, g, d, p in entries:
        assert 0 < p["compute_fraction"] <= 1, (e, g, d)
        assert 0 < p["hbm_fraction"] <= 1, (e, g, d)
        assert p["blend"] >= 1 and p["launch_us"] > 0 and p["pad_tokens"] >= 0 and p["expert_us"] >= 0
        assert p["path_us"] >= 0 and p["path_pairs"] > 0 and p["skew"] >= 0, (e, g, d)


def test_each_kernel_scored_with_its_own_parameters():
    # SGLang on H200 runs bf16 on its Triton kernel for 15 shapes and the non-gated Nemotron-3 experts
    # on FlashInfer's CUTLASS kernel: the planner's bf16 curve is fitted on both, each kernel has its own.
    entry = moe.table()["sglang"]["h200-sxm"]
    assert sorted(entry["kernels"]["bfloat16"]) == ["sglang_flashinfer_cutlass_moe", "sglang_fused_moe_triton"]
    cutlass = entry["kernels"]["bfloat16"]["sglang_flashinfer_cutlass_moe"]
    assert moe.kernel_parameters("sglang", "h200-sxm", "bfloat16", "sglang_flashinfer_cutlass_moe") == {
        k: cutlass[k] for k in moe.PARAMS}
    planner_curve = {k: entry["bfloat16"][k] for k in moe.PARAMS}
    assert moe.kernel_parameters("sglang", "h200-sxm", "bfloat16") == planner_curve
    assert moe.parameters("sglang", "h200-sxm", "bfloat16") == (planner_curve, False)
    # fp8_block runs on one kernel there: its own entry is the planner's curve.
    assert "fp8_block" not in entry["kernels"]
    assert moe.kernel_parameters("sglang", "h200-sxm", "fp8_block", "sglang_fused_moe_triton") == {
        k: entry["fp8_block"][k] for k in moe.PARAMS}
    assert moe.kernel_parameters("sglang", "h200-sxm", "nvfp4") is None  # not measured there


@pytest.mark.parametrize("system", ["hgx-h200", "gb200-nvl72", "mi355x-8"])
@pytest.mark.parametrize("eng", ["default", "trtllm", "vllm", "sglang"])
def test_never_faster_than_the_floor(system, eng):
    """Random layers: no time below every FLOP at the dtype's dense peak or every distinct expert's
    bytes at the GPU's achievable HBM rate (the curve's own hit count), nor below its launch floor."""
    hw = CAT.hardware(system)
    r = rates(hw, engine(eng))
    rng = np.random.default_rng(7)
    n = 2000
    tokens = rng.choice([1, 4, 16, 64, 256, 4096, 16384], n).astype(float)
    hidden = rng.choice([2048, 4096, 7168], n).astype(float)
    inter = rng.choice([512, 768, 2048, 8192], n).astype(float)
    topk = rng.choice([1, 2, 4, 8], n).astype(float)
    experts = rng.choice([8, 64, 128, 256], n).astype(float)
    ep = np.minimum(rng.choice([1, 2, 8, 32], n).astype(float), experts)
    moe_tp = rng.choice([1, 2, 8], n).astype(float)
    mode = rng.integers(0, len(quant.MODE_NAMES), n)
    c = moe.for_modes(r.moe_curve, mode)
    bpe = quant.BYTES_PER_ELEMENT[mode]
    t = moe.layer_s(tokens, hidden, inter, topk, experts, moe_tp, ep, bpe, c)
    peak = np.array([max(hw.gpu.peak_flop_per_s.get(quant.MODES[m].compute_dtype) or 0,
                         hw.gpu.peak_flop_per_s["bf16"]) for m in quant.MODE_NAMES])[mode]
    shard = 3 * hidden * inter / moe_tp
    # Bytes floor on the mean rank's distinct experts (the slowest reads at least as many).
    hits = experts / ep * moe.hit_share(tokens * topk / experts, c["hit_sharpness"])
    flop_floor = 2 * shard * tokens * topk / ep / peak
    byte_floor = shard * hits * bpe / (hw.gpu.hbm_bytes_per_s * hw.gpu.hbm_efficiency_fraction)
    assert np.all(t >= np.maximum(flop_floor, byte_floor))
    assert np.all(t >= c["launch_s"])
    assert np.all(c["flop_per_s"] <= peak) and np.all(
        c["bytes_per_s"] <= hw.gpu.hbm_bytes_per_s * hw.gpu.hbm_efficiency_fraction)


def test_default_engine_is_the_median_of_the_three():
    params, moved = moe.parameters("default", "h200-sxm", "bfloat16")
    assert not moved
    for key in moe.PARAMS:
        three = [moe.table()[e]["h200-sxm"]["bfloat16"][key] for e in tables.ENGINES]
        assert params[key] == pytest.approx(float(np.median(three)), rel=1e-12)


def test_a_gpu_without_kernel_rows_is_transferred():
    # MI355X has no moe_perf rows: the measured GPUs' median fractions on its own peaks and bandwidth.
    hw = CAT.hardware("mi355x-8")
    r = rates(hw, engine("vllm"))
    assert r.moe_curve.transferred
    params, moved = moe.parameters("vllm", hw.gpu.name, "bfloat16")
    assert moved
    measured = [p["compute_fraction"] for g, ds in moe.table()["vllm"].items() for d, p in ds.items()
                if d == "bfloat16"]
    assert params["compute_fraction"] == pytest.approx(float(np.median(measured)), rel=1e-12)
    bf16 = quant.mode_index("bf16")
    assert r.moe_curve.flop_per_s[bf16] == pytest.approx(hw.gpu.peak_flop_per_s["bf16"] * params["compute_fraction"])
    assert r.moe_curve.bytes_per_s[bf16] == pytest.approx(
        hw.gpu.hbm_bytes_per_s * hw.gpu.hbm_efficiency_fraction * params["hbm_fraction"])
    # A measured GPU is not.
    assert not rates(CAT.hardware("hgx-h200"), engine("vllm")).moe_curve.transferred


def test_seed_preset_keeps_the_old_terms():
    assert rates(CAT.hardware("gb200-nvl72", preset="seed"), engine("default")).moe_curve is None


@pytest.mark.parametrize("gpu", ["h200-sxm", "h100-sxm"])
def test_trtllm_hopper_mxfp4_runs_the_openai_triton_kernel(gpu):
    # TensorRT-LLM has no MXFP4 moe_perf rows on Hopper, where its default MoE backend for MXFP4 weights
    # with BF16 activations is TRITON (OpenAI's triton_kernels): the kernel vLLM's tables time as
    # OAITritonExperts, measured on this GPU (not transferred, not the median of every engine's kernels).
    params, moved = moe.parameters("trtllm", gpu, "w4a16_mxfp4")
    assert not moved
    oai = moe.table()["vllm"][gpu]["kernels"]["w4a16_mxfp4"][moe.SHARED_KERNELS[("trtllm", "w4a16_mxfp4")][1]]
    assert params == {p: pytest.approx(float(oai[p]), rel=1e-12) for p in moe.PARAMS}
    if gpu == "h200-sxm":  # moe.toml: [vllm."h200-sxm".kernels.w4a16_mxfp4.vllm_gptossmxfp4moe_triton_...]
        assert params["compute_fraction"] == pytest.approx(0.577489, rel=1e-6)
        assert params["hbm_fraction"] == pytest.approx(0.675726, rel=1e-6)
    # The fp4 plan mode on Hopper (no FP4 tensor cores, no nvfp4 or w4a8 rows there) takes it.
    hw = CAT.hardware("hgx-h200" if gpu == "h200-sxm" else "hgx-h100")
    c = rates(hw, engine("trtllm")).moe_curve
    fp4 = quant.mode_index("fp4")
    assert c.bytes_per_s[fp4] == pytest.approx(
        hw.gpu.hbm_bytes_per_s * hw.gpu.hbm_efficiency_fraction * params["hbm_fraction"], rel=1e-12)
    assert not c.transferred


def test_shared_kernel_only_where_the_engine_has_none():
    # On B200 vLLM measured no OAI Triton kernel (it runs FlashInfer's there): the usual pooling applies.
    oai = moe.SHARED_KERNELS[("trtllm", "w4a16_mxfp4")][1]
    assert oai not in moe.table()["vllm"]["b200"].get("kernels", {}).get("w4a16_mxfp4", {})
    assert moe._shared_kernel("trtllm", "b200", "w4a16_mxfp4") is None
    # On B200 vLLM keeps its own pooled w4a16_mxfp4 entry (no OAI Triton kernel there to pick).
    params, moved = moe.parameters("vllm", "b200", "w4a16_mxfp4")
    assert not moved and params == {p: float(moe.table()["vllm"]["b200"]["w4a16_mxfp4"][p]) for p in moe.PARAMS}


@pytest.mark.parametrize("gpu", ["h200-sxm", "h100-sxm"])
def test_vllm_hopper_mxfp4_runs_its_gpt_oss_kernel(gpu):
    # vLLM's tables time two MXFP4 kernels on Hopper: the GPT-OSS MXFP4 method's OAI Triton experts (what it
    # runs for gpt-oss's MXFP4 checkpoint) and the compressed-tensors W4A4 MXFP4 method's Marlin experts (another
    # checkpoint format). The curve takes the first alone, not one fit over both kernels' rows.
    params, moved = moe.parameters("vllm", gpu, "w4a16_mxfp4")
    oai = moe.table()["vllm"][gpu]["kernels"]["w4a16_mxfp4"][moe.SHARED_KERNELS[("vllm", "w4a16_mxfp4")][1]]
    assert not moved and params == {p: float(oai[p]) for p in moe.PARAMS}
    # moe.toml: H100 OAI Triton hbm_fraction 0.80564 against 0.999406 for the fit over both kernels;
    # H200 compute_fraction 0.577489 against 0.631192.
    pooled = moe.table()["vllm"][gpu]["w4a16_mxfp4"]
    if gpu == "h100-sxm":
        assert params["hbm_fraction"] == pytest.approx(0.80564, rel=1e-6)
        assert pooled["hbm_fraction"] == pytest.approx(0.999406, rel=1e-6)
    else:
        assert params["compute_fraction"] == pytest.approx(0.577489, rel=1e-6)
        assert pooled["compute_fraction"] == pytest.approx(0.631192, rel=1e-6)


@pytest.mark.parametrize("sharpness", [0.501174, 2.0, 0.5, "modes"])
def test_hit_share_at_its_cap_taken_is_the_computed_share(sharpness):
    # for_modes gives each row the hit share at the cap (50 choices per expert) of its mode; hit_share takes it
    # for rows there instead of computing two powers and an expm1: the same bits as computing every row, on a
    # stacked (token counts x rows) array as roofline.moe_s_at passes it, with a scalar sharpness (numpy takes a
    # scalar exponent of 2 or 0.5 by its fast paths, which round otherwise than pow) and with one per row.
    rng = np.random.default_rng(3)
    u = rng.choice([0.01, 0.7, 12.25, 49.9, 50.0, 256.0, 4096.0], (3, 2000))
    curve = moe.MoeCurve(**{k: np.full(5, 1.0) for k in ("launch_s", "flop_per_s", "bytes_per_s", "pad_tokens",
                                                          "thin_inter", "blend", "permute_passes", "expert_s",
                                                          "path_s", "path_pairs", "skew")},
                         hit_sharpness=np.array([0.501174, 2.0, 0.5, 1.3, 0.8]))
    mode = rng.integers(0, 5, 2000) if sharpness == "modes" else np.full(2000, [0.501174, 2.0, 0.5].index(sharpness))
    c = moe.for_modes(curve, mode)
    taken = moe.hit_share(u, c["hit_sharpness"], c["hit_at_cap"])
    computed = moe.hit_share(u, c["hit_sharpness"])
    assert np.array_equal(taken, computed)
    # not vacuous: a third of the entries are at the cap (50 and above), the others below it; s = 1.3 at the cap:
    # (1 - exp(-50^1.3)) ^ (1 / 1.3) rounds to 1.0, s = 0.501174: 1 - exp(-50^0.5) ~ 1 - exp(-7.1) = 0.99918
    assert 0.2 < np.mean(u >= 50.0) < 0.5 and np.isscalar(c["hit_at_cap"]) == (sharpness != "modes")
    if sharpness == 0.501174:
        # (its powers in single precision, moe.power: within 2e-6 of the double-precision share)
        assert c["hit_at_cap"] == pytest.approx((1 - math.exp(-50 ** 0.501174)) ** (1 / 0.501174), rel=2e-6)


def test_power_is_numpy_power_within_single_precision():
    # power(x, p) = exp(p ln x) in single precision: x rounds to float32 (2^-24 relative, which the power
    # scales by p), ln x and its product with p round the same, then exp's own error: within
    # (|p| + |p ln x| + 2) x 2^-23 relative of numpy's correctly rounded double-precision np.power, over the
    # curve's domain: the hit share's u^s (u up to HIT_CAP = 50, sharpness 0.5-4) and its blend's r^p (r in
    # [0, 1], blend 1-130, the fitted range).
    rng = np.random.default_rng(11)
    x = np.concatenate([[0.0, 1.0, moe.HIT_CAP], rng.random(5000) * moe.HIT_CAP, rng.random(5000)])
    p = np.concatenate([rng.uniform(0.5, 4.0, 5003), rng.uniform(1.0, 130.0, 5000)])
    got, want = moe.power(x, p), np.power(x, p)
    assert got.dtype == np.float64
    scale = np.abs(p) + np.abs(p * np.log(np.where(x > 0, x, 1.0))) + 2.0
    normal = want >= 1e-37  # single precision's normal range; below it a power flushes towards 0 (the blend adds
    assert np.all(np.abs(got - want)[normal] <= (scale * 2.0 ** -23 * want)[normal])  # it to 1: no figure moves)
    assert np.all(np.abs(got - want)[~normal] <= 1.2e-38)
    rel = np.abs(got / np.where(want > 0, want, 1.0) - 1.0)
    # the hit share's powers (50^4 the largest: |p ln x| = 15.6) within 3e-6; the blend's (p up to 130) 3e-5
    assert rel[:5003][normal[:5003]].max() < 3e-6 and rel[normal].max() < 3e-5
    assert got[0] == 0.0 and got[1] == 1.0  # 0^p = 0 (exp(-inf)), 1^p = 1 (exp(0))
    out = np.empty(x.size)  # in place, as _norm and _hit_share call it
    assert moe.power(x, p, out=out) is out and np.array_equal(out, got)
    # A scalar exponent broadcast over the rows gives the same figures as the same exponent per row.
    assert np.array_equal(moe.power(x, 2.5), moe.power(x, np.full(x.size, 2.5)))


def test_power_beyond_single_precision_takes_double():
    # 50^75 = 2.6e127 overflows single precision (3.4e38): such a power is taken as exp(p ln x) in double
    # precision, within |p ln x| ulps of np.power (p ln x = 75 ln 50 = 293.4).
    x, p = np.array([50.0, 2.0, 0.5]), np.array([75.0, 3.0, 2.0])
    got = moe.power(x, p)
    assert got == pytest.approx(np.power(x, p), rel=300 * np.finfo(float).eps)
    assert np.isfinite(got).all() and got[0] == pytest.approx(float(50 ** 75), rel=300 * np.finfo(float).eps)


def test_blend_of_two_terms_takes_one_power_when_the_larger_is_the_scale():
    # _norm computes (a^p + b^p)^(1/p) as big (1 + (small / big)^p)^(1/p) where the larger term is finite and
    # at least 1e-30 (its ratio is exactly 1, 1^p exactly 1), its powers as exp(p ln x) (moe.power): the two-power
    # form within 1e-6 relative (moe.power runs in single precision: (|p ln x| + 2) x 2^-23 each, and the blend's
    # result is at most twice its larger term), ties, zeros, a per-row exponent and a scalar one included;
    # otherwise (a term below 1e-30, or infinite) the two-power form itself, bit for bit.
    rng = np.random.default_rng(5)
    a = rng.choice([0.0, 1e-6, 3e-5, 2e-4], 4000) * rng.random(4000)
    b = rng.choice([0.0, 1e-6, 3e-5, 2e-4], 4000) * rng.random(4000)
    b[:10] = a[:10]  # ties

    def two_powers(a, b, p):
        big = np.maximum(np.maximum(a, b), 1e-30)
        return big * np.power(np.power(a / big, p) + np.power(b / big, p), 1.0 / p)

    a[(a == 0) & (b == 0)] = 1e-9  # every row's larger term at least 1e-30: the one-power form
    for p in (rng.choice([1.0, 2.0, 75.00905], 4000), 2.0, 75.00905):
        np.testing.assert_allclose(moe._norm(a, b, p), two_powers(a, b, p), rtol=1e-6, atol=0.0)
    # e.g. a = 3, b = 4, p = 2: 4 (1 + 0.75^2)^(1/2) = 5 (exp(ln(1.5625) / 2) x 4, in single precision)
    assert moe._norm(np.array([3.0]), np.array([4.0]), 2.0)[0] == pytest.approx(5.0, rel=3e-7)
    for edge in (np.array([0.0, 1e-6]), np.array([np.inf, 1e-6])):  # both zero; an infinite term
        other = np.array([0.0, 2e-6])
        with np.errstate(invalid="ignore"):  # inf / inf
            assert np.array_equal(moe._norm(edge, other, 2.0), two_powers(edge, other, 2.0), equal_nan=True)
    assert moe._norm(np.array([0.0]), np.array([0.0]), 2.0)[0] == 0.0


def test_routing_skew_by_hand():
    # The slowest of ep ranks carries the Poisson imbalance the caller passes plus skew x ln(ep): at ep 4 and skew
    # 0.2, 1 + 0.2 x ln 4 = 1.27726 times the mean rank's 1,024 x 8 / 4 = 2,048 choices, the same layer as an
    # imbalance of 1.27726 passed with no skew; ep 1 has no rank to be hot (ln 1 = 0).
    skewed = {**HAND, "skew": 0.2}
    lifted = 1.0 + 0.2 * math.log(4.0)
    assert lifted == pytest.approx(1.27726, abs=1e-5)
    t = moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 4.0, 2.0, skewed)
    assert t == pytest.approx(moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 4.0, 2.0, HAND, imbalance=lifted),
                              rel=1e-12)
    assert t > moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 4.0, 2.0, HAND)
    assert moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 1.0, 2.0, skewed) == \
        moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 1.0, 2.0, HAND)
    # Capped at ep: one rank cannot take more than every choice (1 + 10 ln 2 = 7.93 -> 2 at ep 2).
    assert moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 2.0, 2.0, {**HAND, "skew": 10.0}) == \
        pytest.approx(moe.layer_s(1024.0, 2048.0, 768.0, 8.0, 128.0, 1.0, 2.0, 2.0, HAND, imbalance=2.0), rel=1e-12)


# DeepSeek-V3's routed layer (hidden 7168, inter 2048, top-8 of 256) over 32 ranks of whole experts, 4,096 tokens.
DSV3_EP32 = dict(tokens=np.array([4096.0]), hidden=7168.0, inter=2048.0, topk=8.0, experts=256.0,
                 moe_tp=np.array([1.0]), ep=np.array([32.0]))


def _dsv3_layer_ms(curve, mode_row):
    from planner.serving.roofline import moe_imbalance
    x = DSV3_EP32
    return 1e3 * float(moe.layer_s(x["tokens"], x["hidden"], x["inter"], x["topk"], x["experts"], x["moe_tp"],
                                   x["ep"], 1.0, moe.for_modes(curve, np.array([mode_row])),
                                   imbalance=moe_imbalance(x["tokens"], x["topk"], x["ep"]))[0])


def test_sglang_wide_ep_rows_take_the_deepep_kernel():
    n, fp8, fp4 = len(quant.MODE_NAMES), quant.mode_index("fp8"), quant.mode_index("fp4")
    c = rates(CAT.hardware("gb200-nvl72"), engine("sglang")).moe_curve
    assert c.wide_ep and c.flop_per_s.size == 2 * n  # the modes, then the same modes' wide-EP kernel
    q = np.array([fp8, fp8, fp8, fp4])
    ep, moe_tp = np.array([32.0, 1.0, 4.0, 32.0]), np.array([1.0, 8.0, 2.0, 1.0])
    # whole experts over 32 ranks: the wide-EP kernel; one rank, or experts split 2 ways: the moe_perf curve
    assert moe.mode_rows(c, q, ep, moe_tp).tolist() == [n + fp8, fp8, fp8, n + fp4]
    # NVFP4 has no wide-EP rows: its wide-EP entry is its own curve
    wide_fp4 = moe.for_modes(c, np.array([n + fp4]))
    assert all(np.all(wide_fp4[k] == moe.for_modes(c, np.array([fp4]))[k]) for k in wide_fp4)
    # FP8: the fitted DeepEP parameters on the GB200's own FP8 peak
    params = moe.wide_parameters("sglang", "gb200", "fp8_block")
    gpu = CAT.hardware("gb200-nvl72").gpu
    assert c.flop_per_s[n + fp8] == pytest.approx(gpu.peak_flop_per_s["fp8"] * params["compute_fraction"])
    # wideep_generation_moe_perf, GB200, SGLang 0.5.10, DeepEPMoE, EP 32, 4,096 tokens: 0.159 ms at power law
    # 1.01 (0.087 ms uniform); SGLang's moe_perf curve takes 0.487 ms there, the DeepEP curve 0.170.
    assert _dsv3_layer_ms(c, n + fp8) == pytest.approx(0.159, rel=0.10)
    assert _dsv3_layer_ms(c, fp8) == pytest.approx(0.487, rel=0.01)


def test_no_wide_ep_kernel_where_none_was_measured():
    # TensorRT-LLM's wide-EP table is not fitted (its backend is a deployment's choice), the default profile
    # pools no engine's, and SGLang on MI355X has no kernel rows: one curve per mode, the index its own.
    for system, name in (("gb200-nvl72", "trtllm"), ("gb200-nvl72", "default"), ("mi355x-8", "sglang")):
        c = rates(CAT.hardware(system), engine(name)).moe_curve
        assert not c.wide_ep and c.flop_per_s.size == len(quant.MODE_NAMES), (system, name)
        q = np.array([quant.mode_index("fp8")] * 2)
        assert moe.mode_rows(c, q, np.array([32.0, 1.0]), np.array([1.0, 8.0])) is q
