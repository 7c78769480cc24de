"""Published training runs against the model's predictions.

Tolerance: every prediction lies within 15 % (relative) of the published figure. Why 15 %: the model
is built from datasheet peaks, best-shape GEMM efficiency (docs/sources.md [E8]) and collective
bandwidths ([E11]) with no constant fitted to any training run, and it omits kernel-launch gaps,
stragglers and imperfect overlap, which makes it optimistic where memory is not binding (NVIDIA's
runs: +5 to +9 %); where the published run kept more activations than our Korthikanti accounting
fits in 72 GB (Meta's 8K runs; their recomputation policy is not published), the planner falls back
to full recomputation and lands 4-12 % low. Meta's own three configurations spread 38-43 % (+-6 %),
and interleaving depth and recomputation were not published; 15 % covers those unknowns and would
still catch a factor error in any term (a missing backward pass, a wrong peak, an unsharded state).

Each case runs the planner with the published decisions pinned and lets it choose the unpublished
ones (interleaving, recomputation, ZeRO stage), which is what a user would do.
"""

import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.search.training import optimise_training
from planner.training.evaluate import TrainingScenario
from planner.training.space import default_training_space
from planner.training.workload import TrainingWorkload

TOLERANCE = 0.15
H100 = Catalogue().hardware("hgx-h100")


def _plan(name, batch, seq, gpus, **pins):
    sc = TrainingScenario(H100, model(name), TrainingWorkload(global_batch_sequences=batch, sequence_tokens=seq))
    result = optimise_training(sc, Budget(gpus=gpus), default_training_space(sc, gpus).pinned(**pins))
    assert result.best.verdict.ok
    return result.best


# Llama 3 405B pre-training, Meta, "The Llama 3 Herd of Models" (arXiv 2407.21783) Table 4, BF16 on
# H100-SXM 80 GB (docs/sources.md [E9]: 38-43 % BF16 MFU). Columns: GPUs, TP, CP, PP, DP, sequence, batch
# per DP group (global batch = DP x that), published MFU; then our prediction.
LLAMA3_405B_META = [
    (8192, 8, 1, 16, 64, 8192, 32, 0.43),        # predicted 40.2 % (full recomputation, vpp 4, ZeRO-1)
    (16384, 8, 1, 16, 128, 8192, 16, 0.41),      # predicted 36.1 %: fewer micro-batches, larger bubble
    (16384, 8, 16, 16, 8, 131072, 16, 0.38),     # predicted 36.7 %: 128K context over cp 16
]


@pytest.mark.parametrize("gpus,tp,cp,pp,dp,seq,per_dp,published", LLAMA3_405B_META)
def test_llama3_405b_mfu_matches_meta(gpus, tp, cp, pp, dp, seq, per_dp, published):
    best = _plan("llama-3.1-405b", dp * per_dp, seq, gpus, tp=tp, cp=cp, pp=pp, dp=dp, micro_batch=1,
                 precision="bf16")
    mfu = float(best.scores.mfu_bf16[0])
    assert abs(mfu - published) <= TOLERANCE * published, f"predicted {mfu:.3f}, published {published}"
    assert best.plan.gpus == gpus


def test_llama3_405b_trend_follows_the_micro_batch_count():
    # Meta: 43 % on 8,192 GPUs (32 micro-batches per replica) vs 41 % on 16,384 (16): the bubble grows.
    small = _plan("llama-3.1-405b", 2048, 8192, 8192, tp=8, cp=1, pp=16, dp=64, micro_batch=1, precision="bf16")
    large = _plan("llama-3.1-405b", 2048, 8192, 16384, tp=8, cp=1, pp=16, dp=128, micro_batch=1, precision="bf16")
    assert small.scores.mfu_bf16[0] > large.scores.mfu_bf16[0]
    small_share = small.scores.bubble_s[0] / small.scores.step_time_s[0]
    assert small_share < large.scores.bubble_s[0] / large.scores.step_time_s[0]


# NVIDIA Megatron-Bridge performance summary, 25.11 NeMo container, System DGX-H100, FP8-CS
# (github.com/NVIDIA-NeMo/Megatron-Bridge docs/performance-summary-archive.md): tokens/s/GPU and model
# TFLOP/s/GPU (Megatron's causal FLOP convention, the same as ours: test_training_time).
NVIDIA_H100_FP8 = [
    # model, GPUs, GBS, MBS, seq, TP, PP, CP, VP, tokens/s/GPU, model TFLOP/s/GPU
    ("llama-3.1-70b", 64, 128, 1, 8192, 4, 8, 1, 5, 1602, 719),      # predicted 1729 / 777 (+8 %)
    ("llama-3.1-405b", 1024, 512, 1, 8192, 8, 8, 2, 8, 292, 737),    # predicted 317 / 800 (+8 %)
]


@pytest.mark.parametrize("name,gpus,gbs,mbs,seq,tp,pp,cp,vp,tok_per_gpu,tflops", NVIDIA_H100_FP8)
def test_megatron_bridge_h100_fp8(name, gpus, gbs, mbs, seq, tp, pp, cp, vp, tok_per_gpu, tflops):
    dp = gpus // (tp * pp * cp)
    best = _plan(name, gbs, seq, gpus, tp=tp, pp=pp, cp=cp, vpp=vp, dp=dp, micro_batch=mbs, precision="fp8")
    got_tok = float(best.scores.tok_per_gpu[0])
    got_tflops = float(best.scores.model_flop_per_s_per_gpu[0]) / 1e12
    assert abs(got_tok - tok_per_gpu) <= TOLERANCE * tok_per_gpu, f"predicted {got_tok:.0f} tokens/s/GPU"
    assert abs(got_tflops - tflops) <= TOLERANCE * tflops, f"predicted {got_tflops:.0f} TFLOP/s/GPU"
    # The published runs fit in 80 GB; so does our choice for them (selective = FlashAttention-style).
    assert best.plan.recompute == "selective"


def test_megatron_bridge_gb200_fsdp():
    # Same source, 25.11, System DGX-GB200, FP8-CS: LLAMA3_70B on 64 GPUs, GBS 256, MBS 2, seq 8192, FSDP over
    # all 64 GPUs (our ZeRO-3), TP 1, PP 1, CP 1: 4312 tokens/s/GPU, 1937 model TFLOP/s/GPU. Predicted 4520 and
    # 2031 (+5 %); the planner must recompute fully to fit 80 layers of 16K-token micro-batches in 186 GB.
    gb200 = Catalogue().hardware("gb200-nvl72")
    sc = TrainingScenario(gb200, model("llama-3.1-70b"), TrainingWorkload(global_batch_sequences=256,
                                                                          sequence_tokens=8192))
    space = default_training_space(sc, 64).pinned(tp=1, pp=1, cp=1, dp=64, micro_batch=2, zero=3, precision="fp8")
    best = optimise_training(sc, Budget(gpus=64), space).best
    assert best.plan.recompute == "full"
    assert abs(best.scores.tok_per_gpu[0] - 4312) <= TOLERANCE * 4312
    assert abs(best.scores.model_flop_per_s_per_gpu[0] / 1e12 - 1937) <= TOLERANCE * 1937
