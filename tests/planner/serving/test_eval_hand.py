"""Hand-computed evaluator cases: dense, MoE (DEP-2), MLA, KV offload, and a plan spanning two servers.

Each case scores one plan with an explicit engine profile (perfect overlap or none, no
overheads, every efficiency scale 1), so the expected numbers depend only on the model's
Hugging Face config and on catalogue fields read from the spec objects here. A re-calibration of
the catalogue's efficiencies or of the default engine moves both sides alike. The cases served with
every kernel curve active (``gemm_curve=True``: MoE, MLA, two servers) also read the fitted curves'
parameters (GEMM, MoE, attention, collectives; the engines' median on the GPU, this test's engine
being none of them) and apply them by hand, so a refit of the curves moves both sides alike too.

Parameter counts come from the configs in ``models/data``; each is derived once in a comment
and pinned against ``ModelShape`` so the arithmetic below rests on checked literals.
"""

import math
from dataclasses import replace

import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner import quant
from planner.engine import rates as rates_module
from planner.engine.kernels import attention, moe
from planner.engine.kernels import comm as comm_kernels
from planner.engine.kernels.gemm import FP8_BLOCK_ROW, gemm_time_s
from planner.engine.profile import EngineProfile
from planner.engine.rates import rates
from planner.serving.evaluate import evaluate_plan, reasons, row, shape_of
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
REL = 1e-9  # the evaluator and the test add the same float terms in another order
MOE_REL = 1e-6  # the MoE curve takes its powers in single precision (planner.engine.kernels.moe.power)


def profile(overlap_fraction: float, gemm_curve: bool = False) -> EngineProfile:
    """An engine with no overheads and unit scales. ``gemm_curve=False``: the bare roofline (GEMMs as FLOPs
    and bytes, not on the GEMM curve, whose wiring tests/planner/serving/test_gemm_wiring.py checks);
    ``gemm_curve=True``: every kernel curve active (GEMM, MoE, attention, collectives), as served. The
    name is no engine's, so each curve takes the three engines' median parameters on the GPU."""
    return EngineProfile(name=f"overlap-{overlap_fraction}", source="test: bare roofline", gemm_curve=gemm_curve,
                         gemm_efficiency_scale=1.0, attention_efficiency_scale=1.0, moe_efficiency_scale=1.0,
                         hbm_efficiency_scale=1.0, comm_efficiency_scale=1.0, step_overhead_s=0.0,
                         per_layer_overhead_s=0.0, hbm_usable_fraction=0.9, overlap_fraction=overlap_fraction)


def scenario(model_name, system, tokens_cached, overlap_fraction=1.0, allow_span=False, gemm_curve=False):
    return Scenario(hardware=CAT.hardware(system), model=model(model_name),
                    workload=Workload(tokens_cached=tokens_cached), profile=profile(overlap_fraction, gemm_curve),
                    allow_span=allow_span)


def decode_rate(gpu, dtype):
    """Decode GEMM FLOP/s: dense peak of the dtype x the GPU's decode efficiency, x the narrow-GEMM
    ratio (0.77, H200 microbench) for 8- and 4-bit tensor-core modes faster than bf16."""
    narrow = gpu.narrow_gemm_efficiency_fraction if gpu.peak_flop_per_s[dtype] > gpu.peak_flop_per_s["bf16"] else 1.0
    return gpu.peak_flop_per_s[dtype] * gpu.decode_compute_efficiency_fraction * narrow


def hbm_rate(gpu):
    """Achievable HBM bytes/s: peak x the GPU's HBM efficiency."""
    return gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction


def attention_term(sc, kind, calls, units, kv_bytes, flops, kv_fp8=False):
    """Seconds of the attention kernels: the engine's fitted curve (``planner.engine.kernels.attention``,
    its arithmetic pinned in tests/planner/engine/test_attention_kernels.py) on hand-computed work."""
    return attention.for_gpu(sc.profile.name, sc.hardware.gpu).time_s(kind, calls, units, kv_bytes, flops, kv_fp8)


def gemm_term(sc, quant_name, m, gemms):
    """Seconds of dense-block GEMMs on the engine's GEMM curve (``planner.engine.kernels.gemm.gemm_time_s``,
    its arithmetic pinned in tests/planner/engine/test_gemm_curve.py, its wiring in test_gemm_wiring.py):
    ``gemms`` is ``(count, n, k)`` per weight matrix, ``n`` or ``k`` already split over tp, at ``m`` rows;
    ``quant_name`` a mode, or ``"fp8_block"``, the curve's row of block-scaled FP8 weights."""
    row = FP8_BLOCK_ROW if quant_name == "fp8_block" else quant.mode_index(quant_name)
    c = rates(sc.hardware, sc.engine_profile).gemm.take(row)
    return sum(count * float(gemm_time_s(m, n, k, c)) for count, n, k in gemms)


def moe_layer(sc, dtype, tokens, hidden, inter, top_k, experts, ep, weight_bytes, peak):
    """One MoE layer's routed experts on the slowest of ``ep`` ranks (moe_tp 1), by hand, from the MoE
    curve's parameters (``planner.engine.kernels.moe``; pinned in tests/planner/engine/test_kernel_moe.py):
    u = T k / E choices per expert hit h = (1 - exp(-u^s))^(1/s) of the rank's E / ep experts, the slowest
    rank + sqrt(2 ln ep x (E / ep) h (1 - h)), at most E / ep; it computes T k / ep x (1 + sqrt(2 ln ep /
    (T k / ep)) + skew x ln ep, at most ep) rows plus pad rows per hit expert at ``peak`` x compute_fraction,
    slowed by thin_inter / inter; streams each hit expert's 3 x hidden x inter elements at HBM x hbm_fraction
    (at least expert_us each); the two blend as a p-norm; routing passes move T k hidden vectors of 2 B; the
    batch path adds path_us x x^8 / (1 + x^8), x = T k / path_pairs."""
    p, moved = moe.parameters(sc.profile.name, sc.hardware.gpu.name, dtype)
    assert not moved  # measured on this GPU (the engines' median)
    local = experts / ep
    mu = tokens * top_k / ep
    imbalance = min(1 + math.sqrt(2 * math.log(ep) / mu) + p["skew"] * math.log(ep), ep)
    h = (1 - math.exp(-(tokens * top_k / experts) ** p["hit_sharpness"])) ** (1 / p["hit_sharpness"])
    hits = min(local * h + math.sqrt(2 * math.log(ep) * local * h * (1 - h)), local)
    shard = 3 * hidden * inter
    rows = mu * imbalance + hits * p["pad_tokens"]
    compute = 2 * shard * rows / (peak * p["compute_fraction"]) * (1 + p["thin_inter"] / inter)
    bandwidth = hbm_rate(sc.hardware.gpu) * p["hbm_fraction"]
    memory = hits * max(shard * weight_bytes / bandwidth, p["expert_us"] * 1e-6)
    blend = (compute ** p["blend"] + memory ** p["blend"]) ** (1 / p["blend"])
    permute = tokens * top_k * hidden * 2 * p["permute_passes"] / bandwidth
    x = (tokens * top_k / p["path_pairs"]) ** 8
    path = p["path_us"] * 1e-6 * x / (1 + x)
    return p["launch_us"] * 1e-6 + path + permute + blend, h


def fabric_rate(fabric):
    """Achievable collective bytes/s of one fabric: wire rate x efficiency."""
    return fabric.bytes_per_s * fabric.efficiency_fraction


# ---------------------------------------------------------------------------------------------
# Dense: Llama-3.1-8B, one H200, batch 64, 1,024 tokens cached, bf16 weights and KV.
# ---------------------------------------------------------------------------------------------
# hidden 4096, 32 layers, 32 heads, 8 KV heads, head_dim 128, intermediate 14336, vocab 128256.
LLAMA8_ATTN = 41_943_040       # q 4096x4096 + k,v 2 x 4096x1024 + o 4096x4096
LLAMA8_FFN = 176_160_768       # gate, up, down: 3 x 4096 x 14336
LLAMA8_VOCAB = 525_336_576     # 128256 x 4096, embedding and (untied) lm_head each
LLAMA8_KV_TOKEN_BYTES = 131_072  # 32 layers x 2 (K, V) x 8 heads x 128 x 2 bytes


def test_llama8b_shape_literals():
    s = shape_of(scenario("llama-3.1-8b", "hgx-h200", 1024))
    assert (s.attention_params, s.dense_ffn_params, s.embedding_params, s.lm_head_params) == (
        LLAMA8_ATTN, LLAMA8_FFN, LLAMA8_VOCAB, LLAMA8_VOCAB)
    # 32 x (41,943,040 + 176,160,768) + 2 x 525,336,576 + norms (2 x 4096 x 32 + 4096 = 266,240)
    assert s.active_params == 8_030_261_248
    assert s.kv_new_token_elements * 2 == LLAMA8_KV_TOKEN_BYTES


def test_dense_llama8b_one_h200():
    sc = scenario("llama-3.1-8b", "h200-sxm", 1024, overlap_fraction=1.0)
    gpu = sc.hardware.gpu
    s = evaluate_plan(sc, Plan(batch=64))
    r = row(sc, s)

    # Compute: 2 x 64 tokens x (32 x (41,943,040 + 176,160,768) + 2 x 525,336,576) = 1,027,839,361,024 FLOP
    # of projections at 989e12 x 0.63 = 623.07 TFLOP/s -> 1.6496 ms.
    linear_flop = 2 * 64 * (32 * (LLAMA8_ATTN + LLAMA8_FFN) + 2 * LLAMA8_VOCAB)
    attention_flop = 64 * 4 * 32 * 128 * 1024 * 32
    assert linear_flop == 1_027_839_361_024 and attention_flop == 34_359_738_368
    t_compute = linear_flop / decode_rate(gpu, "bf16")
    assert s.compute_s[0] == pytest.approx(t_compute, rel=REL)

    # HBM: weights read once: (32 x 218,103,808 + lm_head 525,336,576) x 2 B = 15,009,316,864 B (the
    # embedding is a row lookup, not read whole); KV written 64 x 131,072 = 8,388,608 B; activations
    # 64 x 4096 x 2 B x 8 passes x 32 layers = 134,217,728 B. Total 15,151,923,200 B at 4.8e12 x 0.877
    # = 4.2096 TB/s -> 3.5994 ms. (The KV read is the attention kernels'.)
    hbm_bytes = ((32 * (LLAMA8_ATTN + LLAMA8_FFN) + LLAMA8_VOCAB) * 2
                 + 64 * LLAMA8_KV_TOKEN_BYTES + 64 * 4096 * 2 * 8 * 32)
    assert hbm_bytes == 15_151_923_200
    t_hbm = hbm_bytes / hbm_rate(gpu)
    assert s.hbm_s[0] == pytest.approx(t_hbm, rel=REL)
    assert s.comm_s[0] == 0.0 and s.offload_s[0] == 0.0  # one GPU, nothing offloaded

    # Attention: 32 calls (layers) over 64 sequences x 8 KV heads = 512 work units, reading the KV cache
    # 64 x 1,024 x 131,072 B = 8,589,934,592 B and doing 4 x 32 heads x 128 x 1,024 ctx x 32 layers x 64
    # = 34,359,738,368 FLOP; it runs after the blend.
    t_attention = attention_term(sc, "decode", 32, 64 * 8, 64 * 1024 * LLAMA8_KV_TOKEN_BYTES, attention_flop)
    assert s.attention_s[0] == pytest.approx(t_attention, rel=REL)
    assert t_attention >= 8_589_934_592 / hbm_rate(gpu)  # no faster than streaming the KV

    # Perfect overlap, no overheads: the step is the HBM term plus attention.
    step = t_hbm + t_attention
    assert r["limit"] == "hbm"
    assert r["step_time_s"] == pytest.approx(step, rel=REL) and r["tpot_s"] == r["step_time_s"]
    assert r["tok_per_gpu"] == pytest.approx(64 / step, rel=REL)
    assert r["instance_tps"] == r["total_tps"] == r["tok_per_gpu"]
    assert r["tok_per_user"] == pytest.approx(1 / step, rel=REL)
    # Bounds: HBM 64 tokens over every byte, the KV read included, 23,741,857,792 B / 4.2096 TB/s = 5.64 ms;
    # compute = Note 2: 623.07e12 / (2 x 8,030,261,248) = 38,795 tok/s; comm none.
    assert r["bounds_tok_per_gpu"]["hbm"] == pytest.approx(64 / (23_741_857_792 / hbm_rate(gpu)), rel=REL)
    assert r["bounds_tok_per_gpu"]["compute"] == pytest.approx(decode_rate(gpu, "bf16") / (2 * 8_030_261_248), rel=REL)
    assert r["bounds_tok_per_gpu"]["comm"] is None

    # Memory per GPU: weights (32 x 218,103,808 + 2 x 525,336,576) x 2 = 16,059,990,016 B (norms are not
    # stored in this count); KV 8,589,934,592 B; activations 64 x (4 x 4096 + 2 x 14336) x 2 B
    # + 64 x 128,256 x 4 B fp32 logits = 5,767,168 + 32,833,536 = 38,600,704 B; usable HBM 0.9 x 141e9.
    m = r["memory_per_gpu_bytes"]
    assert m["weights"] == 16_059_990_016
    assert m["kv_hbm"] == 8_589_934_592 and m["kv_offloaded"] == 0
    assert m["activations"] == 38_600_704
    assert m["total"] == 16_059_990_016 + 8_589_934_592 + 38_600_704
    assert m["capacity"] == pytest.approx(0.9 * gpu.hbm_bytes, rel=REL)
    assert r["feasible"] and r["reasons"] == []


def test_overlap_fraction_blends_max_and_sum():
    # overlap 0: the terms run one after another, step = compute + HBM = 1.6496 + 3.5994 ms;
    # overlap 0.5: halfway, 0.5 x max + 0.5 x sum; the attention kernels add after the blend either way.
    plan = Plan(batch=64)
    serial = evaluate_plan(scenario("llama-3.1-8b", "h200-sxm", 1024, overlap_fraction=0.0), plan)
    half = evaluate_plan(scenario("llama-3.1-8b", "h200-sxm", 1024, overlap_fraction=0.5), plan)
    total = serial.compute_s[0] + serial.hbm_s[0]
    assert serial.attention_s[0] == half.attention_s[0] > 0
    assert serial.step_time_s[0] == pytest.approx(total + serial.attention_s[0], rel=REL)
    assert half.step_time_s[0] == pytest.approx(0.5 * serial.hbm_s[0] + 0.5 * total + half.attention_s[0], rel=REL)


def test_seed_preset_collectives_keep_log2_latency_rounds():
    # The seed preset keeps the alpha-beta collectives. Llama-3.1-8B decode on GB200 (seed): 32 layers
    # x 2 all-reduces (attention and FFN outputs) = 64 per step, each log2(tp) latency rounds of
    # NVLink 5's 10 us times the engine's comm_latency_scale: raising the scale from 1 to 2 adds
    # 64 x log2(tp) x 10 us: 0.64 ms at tp 2, 1.28 ms at tp 4.
    sc = replace(scenario("llama-3.1-8b", "gb200-nvl72", 1024), hardware=CAT.hardware("gb200-nvl72", preset="seed"))
    assert sc.hardware.gpu.sustained_decode_flop_per_s is not None
    slow = replace(sc, profile=replace(sc.profile, comm_latency_scale=2.0))
    latency = sc.hardware.fabrics["intra_server"].latency_s
    assert latency == pytest.approx(10e-6, rel=1e-12)
    for tp, rounds in ((2, 1), (4, 2)):
        plan = Plan(tp=tp, batch=64)
        extra = evaluate_plan(slow, plan).comm_s[0] - evaluate_plan(sc, plan).comm_s[0]
        assert extra == pytest.approx(64 * rounds * latency, rel=1e-9)


def test_allreduce_follows_the_fitted_curve():
    # Llama-3.1-8B decode on HGX H200: 64 all-reduces per step of 64 tokens x 4,096 x 2 B = 524,288 B,
    # each floor + step x log2(tp) + the faster of one-shot, (tp - 1) x 524,288 B / rate, and two-shot,
    # 2 (tp - 1) / tp x 524,288 B / rate + twoshot (rate = efficiency x 450 GB/s), with the bare-roofline
    # test engine's parameters (not a measured engine: the median of the three on H200). At tp 2 both
    # volumes are 524,288 B. At tp 8 with the shipped fit (floor 2.5 us, step 0.25 us, efficiency 0.735,
    # twoshot 3.7 us): one-shot 3,670,016 B / 331 GB/s = 11.1 us, two-shot 2.8 + 3.7 = 6.5 us: 2.5 +
    # 0.74 + 6.5 = ~9.7 us each, ~0.62 ms per step. The engine's comm scales no longer apply to a
    # fitted tier.
    sc = scenario("llama-3.1-8b", "hgx-h200", 1024)
    p = comm_kernels.params(sc.profile.name, "h200-sxm")
    link = sc.hardware.fabrics["intra_server"].bytes_per_s
    assert link == 450e9
    scaled = replace(sc, profile=replace(sc.profile, comm_latency_scale=2.0, comm_efficiency_scale=0.5))
    for tp in (2, 8):
        plan = Plan(tp=tp, batch=64)
        rate = p.allreduce_efficiency * link
        each = p.allreduce_floor_s + p.allreduce_step_s * math.log2(tp) \
            + min((tp - 1) * 524_288 / rate, 2 * (tp - 1) / tp * 524_288 / rate + p.allreduce_twoshot_s)
        assert evaluate_plan(sc, plan).comm_s[0] == pytest.approx(64 * each, rel=REL)
        assert evaluate_plan(scaled, plan).comm_s[0] == evaluate_plan(sc, plan).comm_s[0]
    assert evaluate_plan(sc, Plan(tp=8, batch=64)).comm_s[0] == pytest.approx(0.62e-3, rel=0.1)


def test_sequence_overhead_charges_each_running_sequence():
    # 2 us per sequence per step: 64 sequences on one attention group add 128 us to the step; on two
    # attention-DP groups of 32 (tp 1, dp 2), 64 us (the groups run side by side).
    sc = scenario("qwen3-30b-a3b", "hgx-h200", 1024)
    charged = replace(sc, profile=replace(sc.profile, sequence_overhead_s=2e-6))
    for plan, sequences in ((Plan(batch=64), 64), (Plan(dp=2, ep=2, batch=64), 32)):
        extra = evaluate_plan(charged, plan).step_time_s[0] - evaluate_plan(sc, plan).step_time_s[0]
        assert extra == pytest.approx(sequences * 2e-6, rel=1e-9)


@pytest.mark.parametrize("name, attention, dense_ffn, moe_ffn", [
    ("llama-3.1-8b", 5, 4, 0),     # GQA 5 (norm, QKV, rope + KV append, attention, O); FFN 4
    ("qwen3-32b", 6, 4, 0),        # GQA 5 + Qwen3's q/k norm 1
    ("gpt-oss-120b", 5, 4, 8),     # GQA 5; routed MoE 8 (norm, router, top-k, permute, 2 GEMMs, act, combine)
    ("deepseek-v3", 9, 4, 11),     # MLA 9; routed MoE 8 + shared expert 3
])
def test_kernels_per_layer(name, attention, dense_ffn, moe_ffn):
    s = shape_of(scenario(name, "hgx-h200", 1024))
    assert (s.attention_kernels, s.dense_ffn_kernels, s.moe_ffn_kernels) == (attention, dense_ffn, moe_ffn)


def test_per_kernel_overhead_llama8b():
    # Llama-3.1-8B at pp 1: 32 layers x (5 + 4) = 288 kernels, less the attention core the attention
    # curve times (its floor is the measured kernel's: roofline.CURVE_ATTENTION_KERNELS, one per layer):
    # 256; at 3 us each, 768 us more per step than the bare roofline, plus 10 us x 32 layers = 320 us
    # for a per-layer overhead on top.
    plan = Plan(batch=64)
    bare = evaluate_plan(scenario("llama-3.1-8b", "h200-sxm", 1024), plan)
    sc = scenario("llama-3.1-8b", "h200-sxm", 1024)
    overheads = {"per_kernel_overhead_s": 3e-6, "per_layer_overhead_s": 10e-6}
    sc = replace(sc, profile=replace(sc.profile, **overheads))
    charged = evaluate_plan(sc, plan)
    assert sc.hardware.gpu.name == "h200-sxm" and rates(sc.hardware, sc.profile).attention_kernels is not None
    assert charged.step_time_s[0] - bare.step_time_s[0] == pytest.approx((288 - 32) * 3e-6 + 32 * 10e-6, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# MoE: Qwen3-30B-A3B as DEP-2 (tp 1, attention dp 2, ep 2) on two H200s, batch 64, 2,048 cached.
# ---------------------------------------------------------------------------------------------
# hidden 2048, 48 layers (all MoE), 32 heads, 4 KV heads, head_dim 128, 128 experts, top-8,
# moe_intermediate 768, vocab 151936.
QWEN30_ATTN = 18_874_624   # q 2048x4096 + k,v 2 x 2048x512 + o 4096x2048 + q/k norms 2 x 128
QWEN30_ROUTER = 262_144    # 2048 x 128
QWEN30_EXPERT = 4_718_592  # 3 x 2048 x 768
QWEN30_VOCAB = 311_164_928  # 151936 x 2048


def test_qwen30b_shape_literals():
    s = shape_of(scenario("qwen3-30b-a3b", "hgx-h200", 2048))
    assert (s.attention_params, s.shared_params, s.expert_params, s.embedding_params) == (
        QWEN30_ATTN, QWEN30_ROUTER, QWEN30_EXPERT, QWEN30_VOCAB)
    assert (s.num_experts, s.top_k, s.num_moe_layers, s.kv_heads) == (128, 8, 48, 4)


def test_moe_qwen30b_dep2():
    # Every kernel curve active (GEMM, MoE, attention, collectives), as served.
    sc = scenario("qwen3-30b-a3b", "hgx-h200", 2048, gemm_curve=True)
    gpu, nvlink = sc.hardware.gpu, sc.hardware.fabrics["intra_server"]
    s = evaluate_plan(sc, Plan(tp=1, dp=2, ep=2, batch=64))
    # Layout: 1 x 1 x 2 = 2 GPUs; each attention group serves 64 / 2 = 32 sequences; each GPU holds
    # 128 / 2 = 64 whole experts (moe_tp = tp x dp / ep = 1).
    assert s.gpus_per_instance[0] == 2

    # Dense-block GEMMs on the GEMM curve, m = the group's 32 tokens, tp 1 (nothing split): per layer
    # QKV 2,048 -> (32 + 2 x 4) x 128 = 5,120, O 4,096 -> 2,048 (together 18,874,368 = QWEN30_ATTN less
    # the q/k norms' 2 x 128) and the router 2,048 -> 128, x 48 layers; the LM head 2,048 -> 151,936 once.
    assert 5120 * 2048 + 4096 * 2048 == QWEN30_ATTN - 256 and 128 * 2048 == QWEN30_ROUTER
    t_gemm = gemm_term(sc, "bf16", 32, [(48, 5120, 2048), (48, 2048, 4096), (48, 128, 2048), (1, 151936, 2048)])
    assert s.gemm_s[0] == pytest.approx(t_gemm, rel=REL)
    # Bounds: 2 x 32 x (48 x 19,136,512 + 311,164,928) = 78,701,920,256 FLOP no faster than the bf16 peak,
    # (48 x 19,136,512 + 311,164,928) x 2 B = 2,459,435,008 B of weights no faster than 4.8e12 x 0.877.
    gemm_params = 48 * (QWEN30_ATTN - 256 + QWEN30_ROUTER) + QWEN30_VOCAB
    assert gemm_params * 2 == 2_459_435_008
    assert t_gemm > max(2 * 32 * gemm_params / 989e12, gemm_params * 2 / hbm_rate(gpu))

    # Compute: nothing left; the GEMMs, the routed experts and the attention FLOPs are on their curves.
    assert s.compute_s[0] == 0.0

    # MoE curve (planner.engine.kernels.moe), this test's engine being unknown: the median of the three
    # engines' H200 bfloat16 parameters. One layer: 64 tokens x 8 choices over 128 experts, u = 4;
    # each GPU holds 64 experts, hits 64 h on average, the slower of the two ranks
    # + sqrt(2 ln 2 x 64 h (1 - h)), at most 64; the slowest rank computes 64 x 8 / 2 x 1.07359 rows
    # (EP imbalance 1 + sqrt(2 ln 2 / 256), plus the curve's skew x ln 2) plus pad rows per hit expert, on shards of
    # 3 x 2048 x 768 = 4,718,592 elements (inter = 768, moe_tp 1), at 989e12 x compute_fraction.
    assert 1 + math.sqrt(2 * math.log(2) / 256) == pytest.approx(1.07359, abs=1e-5)
    layer, h = moe_layer(sc, "bfloat16", 64, 2048, 768, 8, 128, 2, 2, gpu.peak_flop_per_s["bf16"])
    assert gpu.peak_flop_per_s["bf16"] == 989e12
    assert s.moe_s[0] == pytest.approx(48 * layer, rel=MOE_REL)
    # Bounds: no faster than its FLOPs at the bf16 peak or its distinct experts' bytes at full HBM rate.
    assert layer > max(2 * QWEN30_EXPERT * 64 * 8 / 2 / 989e12, 64 * h * QWEN30_EXPERT * 2 / hbm_rate(gpu))

    # Attention: 48 calls over 32 sequences x 4 KV heads = 128 units, reading the group's KV cache
    # 32 sequences x 2,048 x (48 x 2 x 4 x 128 = 49,152 elements) x 2 B (tp 1: no head split) and doing
    # 4 x 32 heads x 128 x 2,048 ctx x 48 layers per token, x 32 tokens.
    kv_read = 32 * 2048 * 49_152 * 2
    assert kv_read == 6_442_450_944
    attention_flop = 32 * 4 * 32 * 128 * 2048 * 48
    t_attention = attention_term(sc, "decode", 48, 32 * 4, kv_read, attention_flop)
    assert s.attention_s[0] == pytest.approx(t_attention, rel=REL)
    assert t_attention >= kv_read / hbm_rate(gpu)  # no faster than streaming the KV

    # HBM: what no curve reads: KV written 32 x 49,152 x 2 B = 3,145,728 B, activations
    # 32 x 2048 x 2 B x 8 passes x 48 layers = 50,331,648 B; 53,477,376 B at 4.2096 TB/s = 12.7 us.
    hbm_bytes = 32 * 49_152 * 2 + 32 * 2048 * 2 * 8 * 48
    assert hbm_bytes == 53_477_376
    t_hbm = hbm_bytes / hbm_rate(gpu)
    assert s.hbm_s[0] == pytest.approx(t_hbm, rel=REL)

    # Comm: EP dispatch + combine inside one server (NVLink 4): each GPU sends its 32 tokens'
    # 8 expert copies of a 2048 x 2 B vector, half of them off-GPU ((ep - 1) / ep), there and back:
    # 32 x 8 x 4,096 B x 2 x 1/2 = 1,048,576 B per layer, x 48 = 50,331,648 B; 2 messages per layer.
    sent = 32 * 8 * 4096 * 2 * 0.5 * 48
    assert sent == 50_331_648
    # Time: 96 exchanges (dispatch and combine per layer), each ONE exchange of the fitted all-to-all
    # curve: floor + step x log2 2 + 1/2 x 32 x 8 x 4,096 B / (efficiency x 450 GB/s).
    p = comm_kernels.params(sc.profile.name, gpu.name)
    t_comm = 96 * (p.alltoall_floor_s + p.alltoall_step_s
                   + 0.5 * 32 * 8 * 4096 / (min(1.0, p.alltoall_efficiency) * nvlink.bytes_per_s))
    assert s.comm_s[0] == pytest.approx(t_comm, rel=REL)

    # Perfect overlap, no overheads: the blend is the largest of HBM and comm, the curve-timed kernels
    # (GEMMs, experts, attention) run after it on the same stream.
    step = max(t_hbm, t_comm) + t_gemm + 48 * layer + t_attention
    assert s.step_time_s[0] == pytest.approx(step, rel=MOE_REL)
    assert s.fabric_bytes_per_s[:, 0] == pytest.approx([sent * 2 / step, 0.0, 0.0], rel=MOE_REL)

    # Memory: 64 experts x 4,718,592 x 48 layers + (48 x 19,136,768 + 2 x 311,164,928) = 16,117,399,552
    # parameters x 2 B per GPU; KV 32 x 2,048 x 49,152 x 2 B = 6,442,450,944 B.
    assert s.memory.weights[0] == (64 * QWEN30_EXPERT * 48 + 48 * (QWEN30_ATTN + QWEN30_ROUTER)
                                   + 2 * QWEN30_VOCAB) * 2
    assert s.memory.kv_hbm[0] == 6_442_450_944


# ---------------------------------------------------------------------------------------------
# MLA: DeepSeek-V3, tp 8 / ep 8 on one HGX H200, fp8 weights and KV, batch 32, 4,096 cached.
# ---------------------------------------------------------------------------------------------
# hidden 7168, 61 layers (3 dense + 58 MoE), 128 heads, kv_lora_rank 512, rope 64, 256 experts, top-8.
DSV3_ATTN = 187_107_328
DSV3_DENSE_FFN = 396_361_728     # 3 x 7168 x 18432
DSV3_SHARED = 44_040_192 + 1_835_264  # one shared expert (3 x 7168 x 2048) + router 7168 x 256 + 256 bias
DSV3_EXPERT = 44_040_192         # 3 x 7168 x 2048
DSV3_VOCAB = 926_679_040         # 129280 x 7168
DSV3_KV_TOKEN_ELEMENTS = 61 * (512 + 64)  # the latent and the shared rope key, per layer


def test_mla_deepseek_v3_tp8():
    # Every kernel curve active (GEMM, MoE, attention, collectives), as served.
    sc = scenario("deepseek-v3", "hgx-h200", 4096, gemm_curve=True)
    gpu, nvlink = sc.hardware.gpu, sc.hardware.fabrics["intra_server"]
    s = evaluate_plan(sc, Plan(tp=8, ep=8, batch=32, quant="fp8", kv_quant="fp8"))
    sh = shape_of(sc)
    assert (sh.attention_params, sh.dense_ffn_params, sh.shared_params, sh.expert_params) == (
        DSV3_ATTN, DSV3_DENSE_FFN, DSV3_SHARED, DSV3_EXPERT)
    assert sh.is_mla

    # KV: the latent is not split over heads, so every TP rank holds and reads all of it:
    # 32 sequences x 4,096 x 61 x 576 x 1 B (fp8) = 4,605,345,792 B per GPU, the same at any tp.
    kv = 32 * 4096 * DSV3_KV_TOKEN_ELEMENTS * 1
    assert kv == 4_605_345_792
    assert s.memory.kv_hbm[0] == kv
    tp4 = evaluate_plan(sc, Plan(tp=4, ep=4, batch=32, quant="fp8", kv_quant="fp8"))
    assert tp4.memory.kv_hbm[0] == kv

    # Dense-block GEMMs, m = the group's 32 tokens, split over tp 8, on the block-scaled fp8 GEMM curve (DeepSeek-V3's
    # released FP8 weights carry 128 x 128 block scales, its config's weight_block_size; the LM head on the fp8 one):
    # per layer (61) the MLA down-projection 7,168 -> 1,536 + 512 + 64 = 2,112 (replicated), q_b
    # 1,536 -> 128 x 192 / 8 = 3,072, kv_b 512 -> 128 x (128 + 128) / 8 = 4,096, O 128 x 128 / 8 = 2,048
    # -> 7,168 (together 187,105,280 = DSV3_ATTN less the latent norms' 1,536 + 512); dense FFN (3 layers)
    # gate-up 7,168 -> 2 x 18,432 / 8 = 4,608, down 18,432 / 8 = 2,304 -> 7,168; MoE layers (58) the router
    # 7,168 -> 256 (replicated) and the shared expert gate-up 7,168 -> 2 x 2,048 / 8 = 512, down 2,048 / 8
    # = 256 -> 7,168 (together DSV3_SHARED less the router's 256 bias terms); the LM head 7,168 -> 129,280 / 8
    # = 16,160 once.
    assert 2112 * 7168 + 24576 * 1536 + 32768 * 512 + 7168 * 16384 == DSV3_ATTN - 2048
    assert 256 * 7168 + 4096 * 7168 + 7168 * 2048 == DSV3_SHARED - 256
    t_gemm = gemm_term(sc, "fp8_block", 32, [(61, 2112, 7168), (61, 3072, 1536), (61, 4096, 512), (61, 7168, 2048),
                                             (3, 4608, 7168), (3, 7168, 2304),
                                             (58, 256, 7168), (58, 512, 7168), (58, 7168, 256)]) \
        + gemm_term(sc, "fp8", 32, [(1, 16160, 7168)])
    assert s.gemm_s[0] == pytest.approx(t_gemm, rel=REL)

    # Compute: nothing left; the GEMMs, the routed experts and the attention FLOPs are on their curves.
    assert s.compute_s[0] == 0.0

    # Attention: absorbed MLA per token 61 x (2 x 128 x 576 + 2 x 128 x 512) x 4,096 = 69,591,891,968
    # FLOP, x 32 / 8 = 4 tokens per GPU, on the MLA decode curve of an FP8 KV cache: 61 calls over the
    # group's 32 sequences, reading the whole latent.
    attention_flop = 4 * 61 * (2 * 128 * 576 + 2 * 128 * 512) * 4096
    assert attention_flop == 4 * 69_591_891_968
    t_attention = attention_term(sc, "mla_decode", 61, 32, kv, attention_flop, True)
    assert s.attention_s[0] == pytest.approx(t_attention, rel=REL)
    assert s.attention_s[0] != attention_term(sc, "mla_decode", 61, 32, kv, attention_flop)  # not the bf16 curve

    # MoE curve, fp8 block-scaled experts (the engines' median on H200): one layer of 32 tokens x 8
    # choices over 256 experts (u = 1), 32 experts per GPU, EP imbalance 1 + sqrt(2 ln 8 / (32 x 8 / 8))
    # = 1.3605 (plus the curve's skew x ln 8), shards of 3 x 7,168 x 2,048 = 44,040,192 elements (moe_tp = 1) at 1 B,
    # FLOPs at the fp8 peak 1,979e12 x compute_fraction; x 58 MoE layers.
    assert 1 + math.sqrt(2 * math.log(8) / 32) == pytest.approx(1.3605, abs=1e-4)
    assert 3 * 7168 * 2048 == DSV3_EXPERT and gpu.peak_flop_per_s["fp8"] == 1979e12
    layer, _ = moe_layer(sc, "fp8_block", 32, 7168, 2048, 8, 256, 8, 1, gpu.peak_flop_per_s["fp8"])
    assert s.moe_s[0] == pytest.approx(58 * layer, rel=MOE_REL)

    # HBM: what no curve reads: the new latent 32 x 61 x 576 x 1 B = 1,124,352 B, activations
    # 32 x 7,168 x 2 B x 8 passes x 61 layers = 223,870,976 B; 224,995,328 B at 4.2096 TB/s = 53.4 us.
    hbm_bytes = 32 * DSV3_KV_TOKEN_ELEMENTS + 32 * 7168 * 2 * 8 * 61
    assert hbm_bytes == 224_995_328
    t_hbm = hbm_bytes / hbm_rate(gpu)
    assert s.hbm_s[0] == pytest.approx(t_hbm, rel=REL)

    # Comm inside one server (NVLink 4), the fitted curves: 61 attention + 3 dense-FFN all-reduces over
    # tp 8 of 32 tokens x 7,168 x 2 B = 458,752 B, each floor + step x log2 8 + the faster of one-shot,
    # 7 x 458,752 B / rate, and two-shot, 2 x 7/8 x 458,752 B / rate + twoshot (rate = efficiency x 450
    # GB/s; on H200's median fit 9.7 us against 2.4 + 3.7 us: two-shot). Attention is not data-parallel
    # (dp 1): every GPU holds all 32 tokens, so nothing is dispatched; each of the 58 MoE layers all-reduces
    # its experts' summed output, the same 458,752 B over the same 8 GPUs: 122 all-reduces, no all-to-all.
    p = comm_kernels.params(sc.profile.name, gpu.name)
    rate = min(1.0, p.allreduce_efficiency) * nvlink.bytes_per_s
    allreduce = p.allreduce_floor_s + 3 * p.allreduce_step_s \
        + min(7 * 458_752 / rate, 2 * 7 / 8 * 458_752 / rate + p.allreduce_twoshot_s)
    t_comm = (64 + 58) * allreduce
    assert s.comm_s[0] == pytest.approx(t_comm, rel=REL)

    # Perfect overlap, no overheads: the largest of HBM and comm, then the curve-timed kernels.
    assert s.step_time_s[0] == pytest.approx(max(t_hbm, t_comm) + t_gemm + 58 * layer + t_attention, rel=MOE_REL)

    # Weights per GPU: (61 x 187,107,328 + 3 x 396,361,728 + 58 x 45,875,456) / 8 + 2 x 926,679,040 / 8
    # + 256 / 8 = 32 whole experts x 44,040,192 x 58, at 1 B = 83,878,192,192 B (83.9 GB of 126.9 usable).
    weights = (61 * DSV3_ATTN + 3 * DSV3_DENSE_FFN + 58 * DSV3_SHARED + 2 * DSV3_VOCAB) / 8 + 32 * DSV3_EXPERT * 58
    assert weights == 83_878_192_192
    assert s.memory.weights[0] == weights
    assert bool(s.feasible[0])


# ---------------------------------------------------------------------------------------------
# KV offload: the dense case with half the KV cache in host memory, streamed over PCIe Gen5.
# ---------------------------------------------------------------------------------------------
def test_kv_offload_llama8b_half():
    sc = scenario("llama-3.1-8b", "h200-sxm", 1024)
    gpu = sc.hardware.gpu
    base = evaluate_plan(sc, Plan(batch=64))
    off = evaluate_plan(sc, Plan(batch=64, kv_offload_fraction=0.5))
    r = row(sc, off)
    kv = 64 * 1024 * LLAMA8_KV_TOKEN_BYTES  # 8,589,934,592 B
    # Offload: 0.5 x 8,589,934,592 B over 63 GB/s x 0.87 (pinned H2D 54.9 GB/s measured) = 78.4 ms.
    host_rate = gpu.host_link_bytes_per_s * rates_module.HOST_LINK_EFFICIENCY[gpu.host_link]
    assert gpu.host_link == "pcie-gen5"
    assert off.offload_s[0] == pytest.approx(0.5 * kv / host_rate, rel=REL)
    assert off.offload_s[0] > 0.070  # the host link is ~77x slower than HBM: offload binds
    assert r["limit"] == "offload"
    # The attention kernels read 4,294,967,296 B less from HBM (the offloaded half is the offload term's);
    # the HBM term (weights, KV writes, activations) is unchanged.
    attention_flop = 64 * 4 * 32 * 128 * 1024 * 32
    assert base.attention_s[0] == pytest.approx(attention_term(sc, "decode", 32, 512, kv, attention_flop), rel=REL)
    assert off.attention_s[0] == pytest.approx(attention_term(sc, "decode", 32, 512, kv / 2, attention_flop),
                                               rel=REL)
    assert off.hbm_s[0] == base.hbm_s[0]
    m = r["memory_per_gpu_bytes"]
    assert m["kv_hbm"] == m["kv_offloaded"] == 4_294_967_296
    assert m["total"] == base.memory.total[0] - 4_294_967_296
    # Host memory per GPU: 256 GB x 0.8 usable holds the 4.3 GB easily.
    assert r["feasible"]


# ---------------------------------------------------------------------------------------------
# Two servers: Llama-3.1-70B at tp 16 on HGX H200 (8 GPUs a server), allowed to span.
# ---------------------------------------------------------------------------------------------
def test_tp16_spans_two_servers_over_infiniband():
    # Every kernel curve active (GEMM, attention, collectives), as served.
    sc = scenario("llama-3.1-70b", "hgx-h200", 1024, allow_span=True, gemm_curve=True)
    gpu, ib = sc.hardware.gpu, sc.hardware.fabrics["inter_server"]
    assert ib.name == "ib-ndr-400"
    s = evaluate_plan(sc, Plan(tp=16, batch=64))
    r = row(sc, s)
    # The tp group spans 16 > 8 GPUs, so its all-reduces run on the inter-server tier (IB NDR 400).
    # Per layer two all-reduces (attention and FFN outputs) of 64 tokens x 8192 x 2 B = 1,048,576 B;
    # ring: 2 x 15/16 of the message sent per GPU -> 160 x 1,966,080 = 314,572,800 B per step.
    sent = 2 * 15 / 16 * 64 * 8192 * 2 * 160
    assert sent == 314_572_800
    # Time: IB has no kernel rows, so the all-reduce curve takes the catalogue's achievable rate and
    # its 15 us latency as the floor, grown per doubling in the fitted NVLink proportion step / floor:
    # 314,572,800 B / (50e9 x 0.73) + 160 x 15 us x (1 + 4 x step / floor) = 8.618 ms + 2.4 ms x
    # (1 + 4 x ~0.10) ~ 12.0 ms (the old model's log2(16) = 4 full latency rounds made it 18.2 ms). No
    # one-shot regime across servers: the ring volume at every size.
    p = comm_kernels.params(sc.profile.name, gpu.name)
    growth = p.allreduce_step_s / p.allreduce_floor_s
    t_comm = sent / fabric_rate(ib) + 160 * ib.latency_s * (1 + 4 * growth)
    assert t_comm == pytest.approx(12.0e-3, rel=0.03)
    assert s.comm_s[0] == pytest.approx(t_comm, rel=REL)

    # GEMMs on the bf16 curve, m = 64 tokens, split over tp 16: per layer (80) QKV 8,192 -> (64 + 2 x 8)
    # x 128 / 16 = 640, O 8,192 / 16 = 512 -> 8,192, gate-up 8,192 -> 2 x 28,672 / 16 = 3,584, down
    # 28,672 / 16 = 1,792 -> 8,192; the LM head 8,192 -> 128,256 / 16 = 8,016 once.
    t_gemm = gemm_term(sc, "bf16", 64, [(80, 640, 8192), (80, 8192, 512), (80, 3584, 8192), (80, 8192, 1792),
                                        (1, 8016, 8192)])
    assert s.gemm_s[0] == pytest.approx(t_gemm, rel=REL)
    # Attention: 80 calls over 64 sequences x 8 KV heads / min(16, 8) = 64 units, reading the GPU's KV
    # share 64 x 1,024 x (80 x 2 x 8 x 128 x 2 B = 327,680) / 8 = 2,684,354,560 B and doing 4 x 64 heads
    # x 128 x 1,024 ctx x 80 layers = 2,684,354,560 FLOP per token, x 64 / 16 = 4 token-shares per GPU.
    t_attention = attention_term(sc, "decode", 80, 64, 2_684_354_560, 4 * 2_684_354_560)
    assert s.attention_s[0] == pytest.approx(t_attention, rel=REL)
    # HBM: KV written 64 x 327,680 / 8 = 2,621,440 B, activations 64 x 8,192 x 2 B x 8 x 80 = 671,088,640 B:
    # 673,710,080 B at 4.2096 TB/s = 0.160 ms, under the comm term.
    t_hbm = (64 * 327_680 / 8 + 64 * 8192 * 2 * 8 * 80) / hbm_rate(gpu)
    assert s.hbm_s[0] == pytest.approx(t_hbm, rel=REL) and s.compute_s[0] == 0.0
    # Step: comm (the largest blended term) then the GEMMs and the attention kernels.
    step = t_comm + t_gemm + t_attention
    assert r["limit"] == "comm"
    assert r["step_time_s"] == pytest.approx(step, rel=REL)
    # Fabric load: each of 16 GPUs sends 314.6 MB per step; nothing on NVLink or between racks.
    per_gpu = sent / step
    assert r["fabric_load_gb_per_s"]["inter_server"] == pytest.approx(per_gpu * 16 / 1e9, rel=REL)
    assert r["fabric_utilisation"]["inter_server"] == pytest.approx(per_gpu / ib.bytes_per_s, rel=REL)
    assert r["fabric_load_gb_per_s"]["intra_server"] == 0.0 and r["fabric_load_gb_per_s"]["inter_rack"] == 0.0
    assert r["bounds_tok_per_gpu"]["comm"] == pytest.approx(64 / 16 / t_comm, rel=REL)  # comm alone
    # KV: 8 KV heads over 16 ranks: min(16, 8) = 8 distinct shares, each head held twice:
    # 64 x 1,024 x 327,680 / 8 = 2,684,354,560 B per GPU.
    assert s.memory.kv_hbm[0] == 2_684_354_560
    assert r["feasible"]

    # Without --allow-span the same plan is refused: the NVLink domain holds 8 GPUs.
    fenced = scenario("llama-3.1-70b", "hgx-h200", 1024, allow_span=False)
    why = reasons(fenced, evaluate_plan(fenced, Plan(tp=16, batch=64)))
    assert why == ["placement: the instance needs 16 GPUs but the scale-up domain of hgx-h200 holds 8 "
                   "(use --allow-span to cross onto the slower tier)"]


# ---------------------------------------------------------------------------------------------
# Infeasible plans name the limit and the excess.
# ---------------------------------------------------------------------------------------------
def test_infeasible_hbm_names_limit_and_bytes():
    sc = scenario("llama-3.1-70b", "h200-sxm", 1024)
    s = evaluate_plan(sc, Plan(batch=8))
    # Weights (80 x (150,994,944 + 704,643,072) + 2 x 1,050,673,152) x 2 B = 141,104,775,168 B alone
    # exceed 0.9 x 141e9 = 126,900,000,000 B usable. KV 8 x 1,024 x 327,680 = 2,684,354,560 B;
    # activations 8 x (4 x 8192 + 2 x 28672) x 2 + 8 x 128,256 x 4 = 1,441,792 + 4,104,192 = 5,545,984 B.
    total = 141_104_775_168 + 2_684_354_560 + 5_545_984
    assert s.memory.total[0] == total
    excess = total - 126_900_000_000
    assert excess == 16_894_675_712
    assert not s.feasible[0]
    assert reasons(sc, s) == [f"hbm_capacity: needs 143.8 GB per GPU but 126.9 GB is usable: over by {excess:,} bytes"]


def test_infeasible_host_memory_and_layout():
    sc = scenario("llama-3.1-8b", "h200-sxm", 131072)
    # All of 128 sequences x 131,072 tokens x 131,072 B = 2,199,023,255,552 B of KV offloaded, against
    # 256 GB x 0.8 = 204.8 GB of host memory per GPU.
    s = evaluate_plan(sc, Plan(batch=128, kv_offload_fraction=1.0))
    kv = 128 * 131072 * LLAMA8_KV_TOKEN_BYTES
    host = sc.hardware.gpu.host_memory_bytes * rates_module.HOST_MEMORY_USABLE_FRACTION
    assert s.memory.kv_offloaded[0] == kv
    (msg,) = reasons(sc, s)
    assert msg == (f"host_memory: offloaded KV needs {kv / 1e9:.1f} GB per GPU but {host / 1e9:.1f} GB of "
                   f"host memory is usable: over by {kv - host:,.0f} bytes")
    # Layout rules: tp 3 divides neither the 32 heads nor the 8 KV heads; a dense model has no ep.
    bad = evaluate_plan(sc, Plan(tp=3, ep=2, batch=4))
    assert not bad.feasible[0]
    assert reasons(sc, bad)[:3] == ["tp 3 does not divide num_attention_heads 32",
                                    "tp 3 and num_key_value_heads 8: neither divides the other",
                                    "ep 2 on a dense model: ep must be 1"]
