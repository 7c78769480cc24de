"""Aggregated-serving model (planner.serving.aggregated): hand-computed cases on Llama-3.1-8B / one H200.

Every case uses a bare engine profile (no overheads, overlap 0: the terms add up) so the
expected numbers depend only on the catalogue: H200 prefill rate 989e12 x 0.76 =
751.64e12 FLOP/s (BF16, h200_microbench.json), HBM 4.8e12 x 0.877 = 4.2096e12 B/s. Llama-3.1-8B
per layer: attention 41,943,040 + FFN 176,160,768 = 218,103,808 parameters; LM head
525,336,576; 65,536 KV elements per token (32 layers x 2 x 8 heads x 128).
"""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models import counts
from models.catalogue import model
from planner.engine.kernels import attention as attention_kernels
from planner.engine.profile import EngineProfile
from planner.serving.aggregated import critical_group_tokens, interleaved_prompt_tokens
from planner.serving.evaluate import evaluate_plan
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.serving.shape import prefill_attention_scale
from planner.serving.workload import Workload

CAT = Catalogue()
H200 = CAT.hardware("hgx-h200")
LLAMA = model("llama-3.1-8b")
PREFILL_RATE = 989e12 * 0.76
HBM_RATE = 4.8e12 * 0.877


def bare(**knobs) -> EngineProfile:
    """No overheads, terms summed (overlap 0), unit scales, GEMMs as FLOPs and bytes (no GEMM curve)."""
    fields = dict(name="bare", source="test: bare serving model", gemm_curve=False, step_overhead_s=0.0,
                  per_layer_overhead_s=0.0,
                  overlap_fraction=0.0)
    fields.update(knobs)
    return EngineProfile(**fields)


def prefill_attention_s(calls, units, flops):
    """The prefill attention curve (``planner.engine.kernels.attention``; the bare profile takes the
    engines' median) on the H200: ``calls`` kernel calls over ``units`` query tiles doing ``flops``."""
    return attention_kernels.for_gpu("bare", H200.gpu).time_s("prefill", calls, units, 0.0, flops)


def score(workload: Workload, plan: Plan, profile: EngineProfile, m=LLAMA, hw=H200):
    return evaluate_plan(Scenario(hardware=hw, model=m, workload=workload, profile=profile), plan)


def test_prompt_tokens_per_step_by_hand():
    # 64 requests x 4,096 prompt tokens / 128 output tokens = 2,048 prompt tokens per decode step.
    assert interleaved_prompt_tokens(64, 4096, 128) == 2048.0


def test_mla_prefill_attention_is_unabsorbed():
    # DeepSeek-V3 per (query, key) pair: prefill 2 x 128 x (128 + 64) + 2 x 128 x 128 = 81,920;
    # absorbed decode 2 x 128 x (512 + 64) + 2 x 128 x 512 = 278,528.
    assert prefill_attention_scale(model("deepseek-v3")) == pytest.approx(81_920 / 278_528, rel=1e-12)
    assert prefill_attention_scale(LLAMA) == 1.0


def test_tokens_cached_is_plain_decode():
    # The steady-state view carries no prompt work and has no TTFT: 64 tokens / step exactly.
    s = score(Workload(tokens_cached=4160), Plan(tp=1, batch=64), bare())
    assert s.ttft_s is None
    # overlap 0, tp 1; the attention kernels add after the blend
    assert s.step_time_s[0] == pytest.approx(s.compute_s[0] + s.hbm_s[0] + s.attention_s[0], rel=1e-12)
    assert s.instance_tps[0] == pytest.approx(64 / s.step_time_s[0], rel=1e-12)


def test_tpot_tends_to_steady_decode_as_prompts_vanish():
    # isl 2, osl 4,000: 64 x 2 / 4,000 = 0.032 prompt tokens per step; the context is
    # 2 + 2,000 = 2,002, so TPOT is the tokens_cached = 2,002 step to within 1e-4 (the 64
    # sequences of 4,002 tokens, 33.6 GB of KV, all fit: no admission queue).
    # The one term that does not vanish with the prompt's size: a 2-token prompt still launches the
    # prefill attention kernel in all 32 layers, and its call floor (about 12 us) is shared by the
    # P / 2 of the steps that carry a prompt.
    steady = score(Workload(tokens_cached=2_002), Plan(tp=1, batch=64), bare())
    serving = score(Workload(isl=2, osl=4_000), Plan(tp=1, batch=64), bare())
    tpot, ttft = serving.step_time_s[0], serving.ttft_s[0]
    share = 64 * 2 * tpot / (ttft + 3_999 * tpot) / 2  # prompts per step, P / 2
    assert 0.0159 < share < 0.0161
    floors = prefill_attention_s(32 * share, 2 * 32 / 128, share * float(counts.prefill_attention_flops(LLAMA, 2)))
    assert floors > 1e-4 * steady.step_time_s[0]
    assert serving.step_time_s[0] == pytest.approx(steady.step_time_s[0] + floors, rel=1e-4)


def test_tpot_carries_interleaved_prefill_by_hand():
    # 64 requests, 4,096 in / 128 out. Little's law: 64 prompts per lifetime TTFT + 127 x TPOT,
    # so a step carries P = 64 x 4,096 x TPOT / (TTFT + 127 x TPOT) prompt tokens (2,048 if
    # TTFT were 1 TPOT; here TTFT ~ 1.76 TPOTs, P ~ 2,036) and P / 4,096 prompts' LM head and
    # causal attention, on top of the decode step at context 4,096 + 64.
    plan = Plan(tp=1, batch=64)
    serving = score(Workload(isl=4096, osl=128), plan, bare())
    decode = score(Workload(tokens_cached=4160), plan, bare())
    tpot, ttft = serving.step_time_s[0], serving.ttft_s[0]
    p = 64 * 4096 * tpot / (ttft + 127 * tpot)
    assert 2_030 < p < 2_040
    attention = float(counts.prefill_attention_flops(LLAMA, 4096))  # 8,386,560 pairs x 32 x 16,384
    assert attention == 4_396_972_769_280
    compute = (2 * p * 32 * 218_103_808             # linear layers of the P prompt tokens
               + 2 * p / 4096 * 525_336_576) / PREFILL_RATE  # LM head of the prompts finishing
    hbm = (p * 65_536 * 2                           # KV written, bf16
           + p * 4096 * 2 * 8 * 32) / HBM_RATE      # activations: 8 passes x 32 layers
    # Causal attention of P / 4,096 prompts by the prefill curve: a 4,096-token chunk joins p / 4,096 of
    # the steps (32 calls each, over 4,096 x 32 heads / 128 = 1,024 query tiles).
    share = p / 4096
    prompt_attention = prefill_attention_s(32 * share, 1024, share * attention)
    assert tpot - decode.step_time_s[0] == pytest.approx(compute + hbm + prompt_attention, rel=1e-6)


def test_prompt_rate_is_a_littles_law_fixed_point():
    # In a synchronised wave (queue scale 4: 4 x sqrt(63) = 31.7 prompts, capped at half of the 63 others) TTFT is
    # many TPOTs long, so prompts arrive less often than once per osl steps: the first round (osl steps per lifetime)
    # over-charges the step; the fixed point satisfies P = B x isl x (1 - 0.5) x TPOT / (TTFT + 127 TPOT).
    import planner.serving.fixed_point as serving_module
    plan, w, wave = Plan(tp=1, batch=64), Workload(isl=4096, osl=128), bare(prompt_queue_scale=4.0)
    s = score(w, plan, wave)
    converged, ttft = s.step_time_s[0], s.ttft_s[0]
    assert ttft / converged > 10
    rounds = serving_module.FIXED_POINT_ROUNDS
    try:
        serving_module.FIXED_POINT_ROUNDS = 1
        first = score(w, plan, wave).step_time_s[0]
    finally:
        serving_module.FIXED_POINT_ROUNDS = rounds
    assert first > converged * 1.03


def test_a_row_scores_the_same_alone_or_among_others():
    # The fixed point stops row by row: a plan evaluated alone (as the solver's verification
    # does) must score bit for bit as it does inside a brute-force table, whose other rows take
    # more rounds to settle (batch 1 settles in fewer rounds than batch 256 here).
    from planner.serving.evaluate import evaluate
    from planner.serving.plan import PlanArrays
    sc = Scenario(hardware=H200, model=LLAMA, workload=Workload(isl=4096, osl=128),
                  profile=bare(prompt_queue_scale=0.5))
    plans = [Plan(tp=1, batch=b) for b in (1, 3, 8, 32, 96, 256)]
    together = evaluate(sc, PlanArrays.from_plans(plans))
    for i, plan in enumerate(plans):
        alone = evaluate_plan(sc, plan)
        assert alone.step_time_s[0] == together.step_time_s[i]
        assert alone.total_tps[0] == together.total_tps[i]


def test_attention_dp_prompt_chunks_sit_on_one_group():
    # P prompt tokens per step, chunks of c, d attention-DP groups in lockstep: max(P/d, min(P, c)).
    assert critical_group_tokens(np.array([256.0]), 8192.0, np.array([4.0]))[0] == 256.0    # one chunk at a time
    assert critical_group_tokens(np.array([20_000.0]), 8192.0, np.array([4.0]))[0] == 8192.0  # a whole chunk
    assert critical_group_tokens(np.array([40_000.0]), 8192.0, np.array([4.0]))[0] == 10_000.0  # all groups busy
    assert critical_group_tokens(np.array([256.0]), 8192.0, np.array([1.0]))[0] == 256.0    # dp 1: unchanged


def test_ttft_of_a_lone_request_by_hand():
    # One request, 2,048-token prompt (one chunk of the 8,192 budget): its iteration carries the
    # prompt and the decode of one sequence (the model counts the batch, here itself).
    plan = Plan(tp=1, batch=1)
    s = score(Workload(isl=2048, osl=256), plan, bare())
    decode = score(Workload(tokens_cached=2048 + 128), plan, bare())
    attention = float(counts.prefill_attention_flops(LLAMA, 2048))
    compute = (2 * 2048 * 32 * 218_103_808 + 2 * 525_336_576) / PREFILL_RATE
    hbm = (2048 * 65_536 * 2 + 2048 * 4096 * 2 * 8 * 32) / HBM_RATE
    # the prompt's causal attention: 32 calls over 2,048 x 32 heads / 128 = 512 query tiles
    prompt_attention = prefill_attention_s(32, 512, attention)
    assert s.ttft_s[0] == pytest.approx(decode.step_time_s[0] + compute + hbm + prompt_attention, rel=1e-9)


def test_ttft_grows_with_concurrency():
    # isl 8,192 = the chunk budget, so each queued prompt costs as long as the request's own prefill. Queue scale 1:
    # the prompt waits behind sqrt(B - 1) others, TTFT(B = 9) = own x (1 + sqrt(8)) = 3.83 x own; scale 2 would
    # queue 2 x sqrt(8) = 5.66, above the synchronised wave's half of the 8 others: own x (1 + 4) = 5 x own.
    plan = Plan(tp=1, batch=9)
    alone = score(Workload(isl=8192, osl=512), plan, bare(prompt_queue_scale=0.0))
    spread = score(Workload(isl=8192, osl=512), plan, bare(prompt_queue_scale=1.0))
    wave = score(Workload(isl=8192, osl=512), plan, bare(prompt_queue_scale=2.0))
    assert spread.ttft_s[0] == pytest.approx((1.0 + 8 ** 0.5) * alone.ttft_s[0], rel=1e-9)
    assert wave.ttft_s[0] == pytest.approx(5.0 * alone.ttft_s[0], rel=1e-9)
    # Scale 0.5, isl 1,024 (prompts share iterations): batch 64 queues 0.5 x sqrt(63) = 3.97 prompts, batch 1 none;
    # each queued prompt costs at least its own prefill's share of a full-budget iteration, so TTFT more than
    # quadruples (25 ms -> 115 ms).
    ttfts = [score(Workload(isl=1024, osl=256), Plan(tp=1, batch=b), bare(prompt_queue_scale=0.5)).ttft_s[0]
             for b in (1, 4, 16, 64)]
    assert ttfts == sorted(ttfts) and ttfts[-1] > 4 * ttfts[0]


def test_ttft_overhead_adds_once():
    # 30 ms of fixed per-request cost moves TTFT by exactly 30 ms; each request then lives
    # longer, so fewer prompts arrive per step (Little's law) and TPOT falls slightly.
    plan, w = Plan(tp=1, batch=8), Workload(isl=1024, osl=256)
    a = score(w, plan, bare())
    b = score(w, plan, bare(ttft_overhead_s=0.030))
    assert b.ttft_s[0] - a.ttft_s[0] == pytest.approx(0.030, rel=1e-9)
    assert 0.99 * a.step_time_s[0] < b.step_time_s[0] < a.step_time_s[0]


def test_admission_queue_follows_littles_law():
    # A tiny usable HBM share admits fewer sequences than the batch; the rest queue for
    # (B / b - 1) request lifetimes, and the output rate is the admitted b's.
    w, plan = Workload(isl=2048, osl=2048), Plan(tp=1, batch=64)
    tight = score(w, plan, bare(hbm_usable_fraction=0.3))
    # 141e9 x 0.3 = 42.3 GB, less the 16.06 GB of weights and the activations, holds 48 sequences
    # of 4,096 tokens x 131,072 B = 536.9 MB each: floor(26.2e9 / 536.9e6) = 48.
    b = 48
    admitted = score(w, Plan(tp=1, batch=b), bare(hbm_usable_fraction=0.3))
    lifetime = admitted.ttft_s[0] + 2047 * admitted.step_time_s[0]
    assert tight.step_time_s[0] == pytest.approx(admitted.step_time_s[0], rel=1e-12)
    assert tight.ttft_s[0] == pytest.approx(admitted.ttft_s[0] + (64 / b - 1) * lifetime, rel=1e-9)
    assert tight.instance_tps[0] == pytest.approx(admitted.instance_tps[0], rel=1e-12)


def test_throughput_counts_time_to_first_token():
    # Output rate = B x osl / (TTFT + (osl - 1) x TPOT), not B / TPOT.
    s = score(Workload(isl=1024, osl=128), Plan(tp=1, batch=32), bare())
    assert s.instance_tps[0] == pytest.approx(32 * 128 / (s.ttft_s[0] + 127 * s.step_time_s[0]), rel=1e-12)


def test_experts_only_checkpoint_keeps_attention_bf16():
    # gpt-oss-120b's MXFP4 covers its experts only: with plan quant fp4, weights per GPU are the
    # experts at 0.5 B and everything else (attention, router, embeddings, LM head) at 2 B.
    gptoss = model("gpt-oss-120b")
    b = counts.param_breakdown(gptoss)
    s = score(Workload(tokens_cached=1024), Plan(tp=1, batch=1, quant="fp4"), bare(), m=gptoss,
              hw=CAT.hardware("hgx-b200"))
    dense = 36 * (b.attention_per_layer + b.router_per_layer)
    expected = dense * 2 + (b.embedding + b.lm_head) * 2 + 36 * 128 * b.expert_params * 0.5
    assert s.memory.weights[0] == pytest.approx(expected, rel=1e-12)


def test_on_demand_kv_admits_by_prompt_and_half_the_output():
    # The Little's-law case above (usable share 0.3: 26.2 GB of KV, 536.9 MB per 4,096-token
    # sequence, 48 admitted of 64) with blocks allocated on demand (fraction 0.5): a sequence is
    # counted at (2048 + 0.5 x 2048) / 4096 = 0.75 of its full length, 402.7 MB, and
    # floor(26.2e9 / 402.7e6) = 65 >= 64 sequences fit: nobody queues.
    w, plan = Workload(isl=2048, osl=2048), Plan(tp=1, batch=64)
    roomy = score(w, plan, bare())
    on_demand = score(w, plan, bare(hbm_usable_fraction=0.3, kv_reserved_output_fraction=0.5))
    reserved = score(w, plan, bare(hbm_usable_fraction=0.3, kv_reserved_output_fraction=1.0))
    assert on_demand.ttft_s[0] == pytest.approx(roomy.ttft_s[0], rel=1e-12)
    assert reserved.ttft_s[0] > 1.3 * roomy.ttft_s[0]  # 16 of 64 wait a whole request lifetime
