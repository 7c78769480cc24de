"""Training's linear layers on the measured GEMM curve (``planner.training.gemm_time``) and activation offload."""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner import quant
from planner.engine.kernels import moe
from planner.training.evaluate import OVERLAP_SM_SHARE, TrainingScenario, evaluate_training_plan
from planner.training.gemm_time import expert_forward_s
from planner.training.memory import stored_bytes_per_layer
from planner.training.rates import training_rates
from planner.training.shape import training_shape
from planner.training.workload import PRECISIONS, TrainingPlan, TrainingWorkload

CAT = Catalogue()
H800 = CAT.hardware("hgx-h800")
FP8 = PRECISIONS.index("fp8")


def _deepseek_experts():
    r = training_rates(H800)
    shape = training_shape(model("deepseek-v3"), 4096)
    t = expert_forward_s(shape, r.gemm, np.array([r.gemm_mode[FP8]]), np.array([4096.0]), np.array([64.0]),
                         np.array([1.0]), r.permute_s_per_byte[FP8])
    return r, float(t[0])


def test_grouped_expert_gemms_by_hand():
    # DeepSeek-V3 (hidden 7,168, expert width 2,048, 256 experts, top-8) on H800 in FP8, EP64, 4,096 tokens per GPU,
    # one MoE layer's forward. The H800 has no kernel rows: its GEMM curve is the measured GPUs' median
    # (transferred): 1,335.8 TFLOP/s, 16 x 64 tiles, 5.875 us floor, 2.498 ps per quantised element.
    r, t = _deepseek_experts()
    c = r.gemm.take(r.gemm_mode[FP8])
    assert (c.tile_m, c.tile_n, c.sm_count) == (16, 64, 132) and c.flop_per_s == pytest.approx(1.335825e15)
    # Rows on the slowest rank: 4,096 x 8 = 32,768 pairs x Poisson imbalance 1 + sqrt(2 ln 64 / 32,768) = 1.015932;
    # 4 local experts of 8,322.5 rows each, padded to 16: 8,336 -> 33,344 rows.
    rows = 32768 * (1 + np.sqrt(2 * np.log(64) / 32768))
    assert rows == pytest.approx(33290.1, rel=1e-6)
    # gate-up 7,168 -> 4,096: 2,084 x 64 = 133,376 tiles, 1,011 waves of 2 x 132 x 16 x 64 x 7,168 / 1.3358e15
    # = 1.45062 us (bytes 0.22 ms, hidden); quantising 33,344 x 7,168 inputs at 2.498 ps = 0.5972 ms.
    gate_up = 5.875e-6 + 1011 * 1.45062e-6 + 33344 * 7168 * c.quant_s_per_element
    # down 2,048 -> 7,168: 2,084 x 112 = 233,408 tiles, 1,769 waves of 0.414463 us; quantising 33,344 x 2,048.
    down = 5.875e-6 + 1769 * 0.414463e-6 + 33344 * 2048 * c.quant_s_per_element
    # Routing passes: 33,290 pairs x 7,168 x 2 bytes x the MoE curve's permute passes over its bandwidth.
    permute = rows * 7168 * 2 * r.permute_s_per_byte[FP8]
    assert t == pytest.approx(gate_up + down + permute, rel=1e-5)
    # 2 x 3 x 7,168 x 2,048 x 32,768 FLOPs in 3.385 ms: 853 TFLOP/s (3.462 ms before the MoE curve's refit with its
    # routing skew moved its routing passes, 3.507 ms before they were refitted per kernel).
    assert t == pytest.approx(3.3853e-3, rel=1e-3)


def test_moe_layer_curve_prices_inference_kernels_not_training_ones():
    # Why training's experts are grouped GEMMs on the GEMM curve, not the MoE-layer curve: that curve is fitted to
    # inference engines' fused MoE kernels, whose FP8 path runs the same layer (one GPU holding 4 experts, fed
    # 32,768 pairs) 2.3x slower than the GEMM route: 8.06 ms, 358 TFLOP/s, about 0.18 of the FP8 peak.
    r, t = _deepseek_experts()
    g = H800.gpu
    peaks = np.array([max(g.peak_flop_per_s.get(quant.MODES[n].compute_dtype) or 0, g.peak_flop_per_s["bf16"])
                      for n in quant.MODE_NAMES])
    curve = moe.curve("default", g, peaks, g.hbm_bytes_per_s * g.hbm_efficiency_fraction)
    mode = quant.mode_index("fp8")
    layer = moe.layer_s(np.array([32768.0]), 7168, 2048, 1, 4.0, 1, 1, 1.0,
                        moe.for_modes(curve, np.array([mode])), imbalance=1 + np.sqrt(2 * np.log(64) / 32768))
    flops = 2 * 3 * 7168 * 2048 * 32768
    assert flops / float(layer[0]) < 0.25 * g.peak_flop_per_s["fp8"]
    assert 2.0 < float(layer[0]) / t < 2.6


def test_activation_offload_moves_layers_to_host_memory():
    # Llama 3 70B on 64 GB200 with FSDP, micro-batch 2 of 8,192 tokens, FP8, selective recomputation. Offloading 40
    # of the 80 layers takes their stored activations off the GPU (one micro-batch in flight: no pipeline) and
    # sends them over NVLink-C2C (225 GB/s per GPU and direction x 0.82) out in the forward and back in the
    # backward; beside the compute that hides them, only their SM share (20 / 132) shows.
    gb200 = CAT.hardware("gb200-nvl72")
    plan = TrainingPlan(dp=64, micro_batch=2, zero=3, precision="fp8", recompute="selective")

    def score(offload):
        w = TrainingWorkload(global_batch_sequences=256, sequence_tokens=8192, offload_layers=offload)
        return evaluate_training_plan(TrainingScenario(gb200, model("llama-3.1-70b"), w), plan)

    kept, offloaded = score(0), score(40)
    stored = float(stored_bytes_per_layer(training_shape(model("llama-3.1-70b"), 8192), np.array([1.0]),
                                          np.array([1.0]), np.array([2.0]), np.array([1]), True)[0])
    assert kept.memory.activations[0] - offloaded.memory.activations[0] == pytest.approx(40 * stored, rel=1e-9)
    host_s = 2 * 40 * stored / (225e9 * 0.82)
    m = 256 / (64 * 2)
    assert offloaded.comm_s[0] - kept.comm_s[0] == pytest.approx(m * host_s * OVERLAP_SM_SHARE, rel=1e-9)
    # More layers than the stage has less one: the last layer's activations stay (its backward runs first).
    assert score(200).memory.activations[0] == pytest.approx(kept.memory.activations[0] - 79 * stored, rel=1e-9)


def test_tp_overlap_hides_behind_the_gemms_beside_it():
    # Llama 3 70B on 64 H100, TP4 PP8 VP5 DP2, FP8, 64 micro-batches of one 8,192-token sequence. Per micro-batch a
    # 10-layer stage runs 4 all-gather-sized TP collectives per layer in the forward and 4 in the backward:
    # 80 x (3/4 x 8,192 x 8,192 x 2 bytes / 364.5 GB/s + 3 x 10 us) = 24.49 ms on NVLink, well inside the
    # stage's 128 ms of GEMMs. With --tp-overlap 1 (NVIDIA's userbuffers recipes) it hides but for its SM share:
    # the step's exposed communication drops by 64 x 24.49 ms x (1 - 20/132) = 1.33 s.
    h100 = CAT.hardware("hgx-h100")
    plan = TrainingPlan(tp=4, pp=8, vpp=5, dp=2, micro_batch=1, recompute="selective", zero=1, precision="fp8")

    def score(overlap):
        w = TrainingWorkload(global_batch_sequences=128, sequence_tokens=8192, tp_overlap_fraction=overlap)
        return evaluate_training_plan(TrainingScenario(h100, model("llama-3.1-70b"), w), plan)

    tp_s = 80 * (0.75 * 8192 * 8192 * 2 / 364.5e9 + 3 * 10e-6)
    assert tp_s == pytest.approx(0.024493, rel=1e-4)
    exposed, hidden = score(0.0), score(1.0)
    assert exposed.comm_s[0] - hidden.comm_s[0] == pytest.approx(64 * tp_s * (1 - OVERLAP_SM_SHARE), rel=1e-9)
    assert hidden.compute_s[0] == exposed.compute_s[0] > 64 * 3 * tp_s
