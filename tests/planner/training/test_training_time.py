"""Training step time: a hand-computed step, the FLOP convention, the pipeline bubble, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.catalogue import Catalogue
from models import counts
from models.catalogue import model
from planner import quant
from planner.engine.kernels import gemm
from planner.training.evaluate import TrainingScenario, evaluate_training, evaluate_training_plan
from planner.training.shape import training_shape
from planner.training.workload import TrainingPlan, TrainingPlanArrays, TrainingWorkload

CAT = Catalogue()
H100 = CAT.hardware("hgx-h100")


def test_one_gpu_step_by_hand():
    # Llama 3.1 8B on one H100, 8 sequences of 4096 tokens, micro-batch 1 (m = 8), no parallelism, ZeRO-0.
    m8 = model("llama-3.1-8b")
    sc = TrainingScenario(H100, m8, TrainingWorkload(global_batch_sequences=8, sequence_tokens=4096))
    s = evaluate_training_plan(sc, TrainingPlan(recompute="selective", zero=0))
    pb = counts.param_breakdown(m8)
    layer = pb.attention_per_layer + pb.dense_ffn_per_layer        # 41,943,040 + 176,160,768
    gpu = H100.gpu                                                 # efficiencies as the catalogue has them
    # Linear layers on the measured GEMM curve (planner.engine.kernels.gemm, H100 BF16: 761.5 TFLOP/s, 16 x 64
    # tiles, 2.75 us floor). E.g. QKV 4096 x 4096 -> 6144: 256 x 96 = 24,576 tiles in ceil(24,576 / 132) = 187
    # waves of 2 x 132 x 16 x 64 x 4096 / 761.5e12 = 1.45404 us, + 2.75 us = 274.66 us (bytes: 49 us, hidden).
    curve = gemm.curve(gpu, "default").take(quant.mode_index("bf16"))
    assert gemm.gemm_time_s(4096, 6144, 4096, curve) == pytest.approx(187 * 1.45404e-6 + 2.75e-6, rel=1e-5)
    gemms = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)]  # (n, k): QKV, O, gate-up, down
    layer_s = sum(gemm.gemm_time_s(4096, n, k, curve) for n, k in gemms)
    gemm_s = 32 * layer_s + gemm.gemm_time_s(4096, 128256, 4096, curve)   # + LM head
    hbm = 3.35e12 * gpu.hbm_efficiency_fraction                    # HBM3 peak x achievable fraction
    attn_rate = 989e12 * gpu.prefill_compute_efficiency_fraction * 0.773  # FlashAttention-3 / best GEMM
    attn = 4 * 32 * 128 * (4096 * 4095 / 2) * 32                   # causal QK^T + AV (no diagonal), 32 layers
    forward = gemm_s + attn / attn_rate                            # 0.0813 + 0.0072 s
    # 2 x 4096 tokens x 7.5047e9 matmul parameters at 761.5 TFLOP/s is 0.0807 s; waves and floors add 0.8 %.
    matmul = 32 * layer + 128256 * 4096                            # layers + LM head = 7,504,658,432
    assert gemm_s == pytest.approx(2 * 4096 * matmul / 761.53e12 * 1.008, rel=1e-3)
    compute = 3 * forward + attn / attn_rate                       # backward 2x forward, attention core rerun
    # Bytes/token/layer the forward writes: QKV in 8192 + Q 8192 + K,V 4096 + O 8192 + MLP in 8192
    # + 3 x 2 x 14336 + norms 16384 = 139,264; streamed 3 times through HBM. Selective recomputation
    # writes the two norm outputs and the SwiGLU product (8192 + 8192 + 28672 = 45,056) once more.
    # The cross-entropy over the vocabulary streams the fp32 logits 3 times: 3 x 4 bytes x 128,256 x 4,096 tokens.
    elementwise = ((3 * 139_264 + 45_056) * 4096 * 32 + 3 * 4 * 128_256 * 4096) / hbm
    # Adam update: 28 bytes for each of the 32 layers' and both vocabulary matrices' parameters.
    optimiser = 28 * (32 * layer + 2 * 128256 * 4096) / hbm
    step = 8 * (compute + elementwise) + optimiser                 # no bubble, no communication, one GPU
    assert s.jitter_s[0] == 0                                      # sqrt(2 ln 1) = 0: nobody to wait for
    assert s.step_time_s[0] == pytest.approx(step, rel=1e-9)
    assert s.tokens_per_s[0] == pytest.approx(8 * 4096 / step, rel=1e-9)
    assert s.bubble_s[0] == 0 and s.comm_s[0] == 0
    # MFU: model FLOPs (6 N + 3 x attention, N without the input embedding) over time x peak.
    model_flop = 8 * 4096 * 6 * (counts.active_params(m8) - 128256 * 4096) + 8 * 3 * attn
    assert s.mfu[0] == pytest.approx(model_flop / (step * 989e12), rel=1e-9)
    # mb/s/replica (Inst Steps/s): micro-batches of the one replica per second; mb/s (Tot Steps/s): all dp replicas.
    assert s.instance_steps_per_s[0] == pytest.approx(8 / step, rel=1e-9) == s.total_steps_per_s[0]


def test_model_flops_match_megatron_convention():
    # Megatron-LM num_floating_point_operations per token, causal attention, SwiGLU, GQA:
    # 12 L h^2 [(1 + g/a + s/(2h)) + 1.5 f/h + V/(2 L h)]. Llama 3 70B: L 80, h 8192, g/a 8/64, f 28672,
    # s 8192, V 128256 -> 12 x 80 x 8192^2 x 6.9729 = 4.492e11 FLOPs/token. NVIDIA's Megatron-Bridge 25.11
    # table (DGX-H100, FP8) reports 719 model TFLOP/s at 1602 tokens/s/GPU: 4.488e11 FLOPs/token.
    shape = training_shape(model("llama-3.1-70b"), 8192)
    L, h, s = 80, 8192, 8192
    megatron = 12 * L * h * h * ((1 + 8 / 64 + s / (2 * h)) + 1.5 * 28672 / h + 128256 / (2 * L * h))
    assert shape.model_flop_per_token == pytest.approx(megatron, rel=2e-4)   # norms (6e-5) aside
    assert shape.model_flop_per_token == pytest.approx(719e12 / 1602, rel=2e-3)


def test_bubble_is_pp_minus_1_over_m_vpp_plus_pp_minus_1():
    # Narayanan et al. 2021 (arXiv 2104.04473) section 2.2: bubble fraction (pp - 1) / (m + pp - 1), and
    # (pp - 1) / (m vpp + pp - 1) with vpp interleaved stages. Llama 3.1 70B, pp 4, m = 32 micro-batches.
    sc = TrainingScenario(H100, model("llama-3.1-70b"), TrainingWorkload(global_batch_sequences=64,
                                                                          sequence_tokens=4096))
    plans = [TrainingPlan(tp=8, pp=4, vpp=v, dp=2, micro_batch=1, recompute="full") for v in (1, 2, 4)]
    s = evaluate_training(sc, TrainingPlanArrays.from_plans(plans))
    for i, v in enumerate((1, 2, 4)):
        pipeline = 32 * s.micro_batch_s[i] + s.bubble_s[i]
        assert s.bubble_s[i] / pipeline == pytest.approx(3 / (32 * v + 3), rel=1e-12)
        assert s.micro_batches[i] == 32


LAYOUTS = st.builds(dict, tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]),
                    cp=st.sampled_from([1, 2]), dp=st.sampled_from([1, 2, 4]),
                    recompute=st.sampled_from(["selective", "full"]), zero=st.sampled_from([0, 1, 2, 3]),
                    precision=st.sampled_from(["bf16", "fp8"]))


@settings(max_examples=40, deadline=None)
@given(layout=LAYOUTS, name=st.sampled_from(["llama-3.1-8b", "qwen3-30b-a3b"]))
def test_more_micro_batches_never_slow_the_job_per_token(layout, name):
    # A larger global batch at a fixed layout adds micro-batches: the step grows, but the pipeline bubble
    # and the per-step tail are amortised, so tokens/s per GPU never falls.
    m = model(name)
    ep = 2 if m.moe is not None and (layout["tp"] * layout["cp"] * layout["dp"]) % 2 == 0 else 1
    plan = TrainingPlan(ep=ep, micro_batch=1, **layout)
    steps, rates = [], []
    for batch in (4, 8, 16, 32):
        sc = TrainingScenario(H100, m, TrainingWorkload(global_batch_sequences=batch * layout["dp"],
                                                        sequence_tokens=2048))
        s = evaluate_training_plan(sc, plan)
        steps.append(float(s.step_time_s[0]))
        rates.append(float(s.tok_per_gpu[0]))
    assert np.all(np.diff(steps) > 0)
    assert np.all(np.diff(rates) >= -1e-9 * rates[0])


def test_fp8_is_faster_but_below_twice_bf16():
    # FP8 doubles the dense peak but not attention, casts, memory-bound kernels or communication.
    sc = TrainingScenario(H100, model("llama-3.1-70b"), TrainingWorkload(global_batch_sequences=128,
                                                                          sequence_tokens=8192))
    plans = [TrainingPlan(tp=4, pp=8, vpp=5, dp=2, recompute="selective", precision=p) for p in ("bf16", "fp8")]
    s = evaluate_training(sc, TrainingPlanArrays.from_plans(plans))
    assert 1.0 < s.tokens_per_s[1] / s.tokens_per_s[0] < 2.0
