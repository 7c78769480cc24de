"""The collective kernel curves: arithmetic, physical bounds, transferred GPUs and tiers, and the NVL72 wide-EP step."""

import math
from dataclasses import fields

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from hardware.specs import TIERS
from models.catalogue import model
from planner.engine import rates as rates_module
from planner.engine.kernels import comm
from planner.engine.profile import engine
from planner.serving.evaluate import evaluate_plan
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
MEASURED_GPUS = ("h100-sxm", "h200-sxm", "b200", "b300", "gb200", "gb300")
VALUES = [f.name for f in fields(comm.CommParams) if f.name != "measured"]


def test_allreduce_and_alltoall_by_hand():
    # All-reduce of 1 MiB over 8 GPUs: 2 us floor + 0.5 us x log2 8 + 2 x 7/8 x 1,048,576 B / 300 GB/s
    # = 2 + 1.5 + 6.1167 = 9.6167 us; a group of one costs nothing.
    t = comm.allreduce_s(np.array([8.0, 1.0]), 1_048_576, 2e-6, 0.5e-6, 300e9)
    assert t[0] == pytest.approx(2e-6 + 1.5e-6 + 1.75 * 1_048_576 / 300e9, rel=1e-12)
    assert t[0] == pytest.approx(9.6167e-6, rel=1e-4)
    assert t[1] == 0.0
    # All-to-all over 72 ranks, 64 tokens x 8 experts x 7,168 x 2 B = 7,340,032 B per rank, 71/72 of it
    # remote, ONE exchange: 10 us + 1 us x log2 72 (6.17) + 7,238,087 B / 600 GB/s = 28.23 us.
    share = 64 * 8 * 7168 * 2
    t = comm.alltoall_s(72.0, share, 72.0, 10e-6, 1e-6, 600e9)
    assert t == pytest.approx(10e-6 + math.log2(72) * 1e-6 + 71 / 72 * share / 600e9, rel=1e-12)
    assert t == pytest.approx(28.23e-6, rel=1e-3)
    # A pipeline hand-off: one message, floor plus bytes.
    assert comm.p2p_s(1e6, 10e-6, 500e9) == pytest.approx(12e-6, rel=1e-12)


def test_allreduce_takes_the_faster_of_one_shot_and_two_shot():
    # 8 GPUs, 2 us floor, 0.5 us per doubling, 300 GB/s, two-shot's second round 10 us.
    # 1 MiB: one-shot 7 x 1,048,576 / 300e9 = 24.467 us; two-shot 1.75 x 1,048,576 / 300e9 + 10 = 16.117 us:
    # two-shot, 2 + 1.5 + 16.117 = 19.617 us. 64 KiB: one-shot 7 x 65,536 / 300e9 = 1.529 us against
    # 0.382 + 10 us: one-shot, 2 + 1.5 + 1.529 = 5.029 us. Over 2 GPUs the volumes are equal (1 x message):
    # 2 + 0.5 + 1,048,576 / 300e9 = 5.995 us whatever the second round costs.
    t = comm.allreduce_s(8.0, np.array([1_048_576, 65_536]), 2e-6, 0.5e-6, 300e9, 10e-6)
    np.testing.assert_allclose(t, [19.617e-6, 5.029e-6], rtol=1e-3)
    assert comm.allreduce_s(2.0, 1_048_576, 2e-6, 0.5e-6, 300e9, 10e-6) == pytest.approx(5.995e-6, rel=1e-3)
    # The switch: one-shot below twoshot / gap bytes, gap = (7 - 1.75) / 300e9 s per byte: 571,429 B.
    gap = comm.oneshot_gap_per_byte(8.0, 300e9)
    assert gap == pytest.approx(5.25 / 300e9, rel=1e-12)
    switch = 10e-6 / gap
    assert switch == pytest.approx(571_429, rel=1e-5)
    below, above = comm.allreduce_s(8.0, np.array([0.99, 1.01]) * switch, 0.0, 0.0, 300e9, 10e-6)
    assert below == pytest.approx(7 * 0.99 * switch / 300e9, rel=1e-12)
    assert above == pytest.approx(1.75 * 1.01 * switch / 300e9 + 10e-6, rel=1e-12)
    # twoshot = 0: the two-shot (ring) line at every size, the curve before the one-shot regime.
    assert comm.allreduce_s(8.0, 1_048_576, 2e-6, 0.5e-6, 300e9) == pytest.approx(9.6167e-6, rel=1e-4)


@pytest.mark.parametrize("engine_name", ["trtllm", "vllm", "sglang", "default", "nccl"])
@pytest.mark.parametrize("gpu", MEASURED_GPUS + ("mi300x", "mi355x", "h800"))
def test_efficiency_at_most_one_and_no_collective_beats_the_link(engine_name, gpu):
    p = comm.params(engine_name, gpu)
    assert 0 < p.allreduce_efficiency <= 1 and 0 < p.alltoall_efficiency <= 1
    assert min(getattr(p, v) for v in VALUES) >= 0
    hw = CAT.hardware(gpu)
    k = comm.tiers(p, hw)
    n = np.array([2.0, 4.0, 8.0, 16.0, 72.0])
    message = np.logspace(2, 9, 8)[:, None]
    for t, tier in enumerate(TIERS):
        link = hw.fabrics[tier].bytes_per_s
        assert k.allreduce_bytes_per_s[t] <= link and k.alltoall_bytes_per_s[t] <= link
        ar = comm.allreduce_s(n, message, k.allreduce_floor_s[t], k.allreduce_step_s[t], k.allreduce_bytes_per_s[t],
                              k.allreduce_twoshot_s[t])
        a2a = comm.alltoall_s(n, message, n, k.alltoall_floor_s[t], k.alltoall_step_s[t], k.alltoall_bytes_per_s[t])
        # The floor: the algorithm's bytes at the link's full rate, no latency.
        assert (ar >= 2 * (n - 1) / n * message / link).all()
        assert (a2a >= (n - 1) / n * message / link).all()


def test_default_engine_is_the_median_of_the_three_on_its_gpu():
    trio = [comm.params(e, "h200-sxm") for e in ("trtllm", "vllm", "sglang")]
    default = comm.params("default", "h200-sxm")
    for v in VALUES:
        assert getattr(default, v) == pytest.approx(float(np.median([getattr(p, v) for p in trio])), rel=1e-12)
    assert default.measured
    # A custom engine name without its own table takes the same medians.
    assert comm.params("my-engine", "h200-sxm") == default


def test_a_gpu_without_kernel_rows_is_transferred_onto_its_own_fabric():
    # MI300X: no kernel rows; vLLM's parameters are the medians over the six measured GPUs, applied to
    # the MI300X's own Infinity Fabric rate (its catalogue figure), and marked transferred.
    p = comm.params("vllm", "mi300x")
    assert not p.measured
    measured = [comm.params("vllm", g) for g in MEASURED_GPUS]
    assert all(m.measured for m in measured)
    for v in VALUES:
        assert getattr(p, v) == pytest.approx(float(np.median([getattr(m, v) for m in measured])), rel=1e-12)
    hw = CAT.hardware("mi300x")
    k = comm.tiers(p, hw)
    fabric = hw.fabrics["intra_server"]
    assert fabric.kind == "scale-up"
    assert k.alltoall_bytes_per_s[0] == pytest.approx(fabric.bytes_per_s * p.alltoall_efficiency, rel=1e-12)
    assert not k.measured
    assert rates_module.rates(hw, engine("vllm")).comm_curves.alltoall_floor_s[0] == p.alltoall_floor_s


def test_scale_out_tier_takes_the_catalogue_with_the_fitted_growth():
    # HGX H200: across servers is InfiniBand NDR 400 (no kernel rows): floor = its 15 us per message,
    # growing per doubling in the fitted NVLink proportion step / floor; rate = 50 GB/s x 0.73.
    hw = CAT.hardware("hgx-h200")
    p = comm.params("trtllm", "h200-sxm")
    k = comm.tiers(p, hw)
    ib = hw.fabrics["inter_server"]
    assert ib.kind == "scale-out" and ib.latency_s == pytest.approx(15e-6)
    assert k.allreduce_floor_s[1] == ib.latency_s
    assert k.allreduce_step_s[1] == pytest.approx(ib.latency_s * p.allreduce_step_s / p.allreduce_floor_s)
    assert k.allreduce_bytes_per_s[1] == pytest.approx(50e9 * 0.73)
    # No one-shot kernel across servers: the two-shot (ring / tree) volume at every size there.
    assert k.allreduce_twoshot_s[1] == 0.0 and k.allreduce_twoshot_s[0] == p.allreduce_twoshot_s > 0
    # Inside the server: the fitted floor and efficiency on NVLink 4's 450 GB/s.
    assert k.allreduce_floor_s[0] == p.allreduce_floor_s
    assert k.allreduce_bytes_per_s[0] == pytest.approx(450e9 * p.allreduce_efficiency)


def test_seed_preset_keeps_the_alpha_beta_collectives():
    hw = CAT.hardware("gb200-nvl72", preset="seed")
    assert rates_module.rates(hw, engine("default")).comm_curves is None
    assert rates_module.rates(CAT.hardware("gb200-nvl72"), engine("default")).comm_curves is not None


def test_wide_ep_dispatch_and_combine_on_nvl72_is_one_exchange_each():
    # DeepSeek-V3 decode on a GB200 NVL72, tp 1, dp = ep = 72, 64 sequences per rank: 58 MoE layers
    # x 2 exchanges (dispatch, combine) = 116 per step; no all-reduce (tp 1). Each exchange: the
    # default engine's all-to-all curve over 72 ranks, 64 x 8 x 7,168 x 2 B = 7,340,032 B per rank,
    # 71/72 remote. The old model charged log2(72) = 6.17 latency rounds of 10 us per exchange,
    # 116 x 61.7 us = 7.16 ms of latency alone; the curve's floors are 116 x ~13.6 us = ~1.6 ms.
    hw = CAT.hardware("gb200-nvl72")
    sc = Scenario(hardware=hw, model=model("deepseek-v3"), workload=Workload(tokens_cached=4096),
                  profile=engine("default"))
    p = comm.params("default", "gb200")
    share = 64 * 8 * 7168 * 2
    each = p.alltoall_floor_s + p.alltoall_step_s * math.log2(72) \
        + 71 / 72 * share / (p.alltoall_efficiency * hw.fabrics["inter_server"].bytes_per_s)
    s = evaluate_plan(sc, Plan(tp=1, dp=72, ep=72, batch=64 * 72))
    assert s.comm_s[0] == pytest.approx(116 * each, rel=1e-9)
    old_latency = 116 * math.log2(72) * hw.fabrics["inter_server"].latency_s
    assert old_latency == pytest.approx(7.16e-3, rel=1e-3)
    assert 116 * (p.alltoall_floor_s + p.alltoall_step_s * math.log2(72)) < 0.25 * old_latency


def test_decode_all_reduce_over_8_gpus_runs_one_shot_at_decode_sizes_and_the_fixed_point_agrees():
    # Llama-3.1-8B (hidden 4,096) at tp 8 on H100 under TensorRT-LLM: its all-reduce of 32 sequences is
    # 32 x 4,096 x 2 B = 256 KiB, below the one-shot switch twoshot / gap (fitted, comm.toml), so the curve
    # charges (n - 1) = 7 messages in per GPU, 4x the two-shot's 1.75: the kernel table measures 8.2 us
    # at 256 KiB over 8 H100s (custom_allreduce_perf, median of the 64-600 KB rows) where the two-shot
    # line alone gave 4.6 us. At 2,048 sequences (16 MiB) the two-shot runs. CurveCollectives (the serving
    # fixed point's folded form) gives curve_comm's time at both sizes.
    from planner.serving.comm import CurveCollectives, curve_comm
    from planner.serving.layout import layout
    from planner.serving.plan import PlanArrays
    from planner.serving.shape import model_shape

    hw = CAT.hardware("hgx-h100")
    p = comm.params("trtllm", "h100-sxm")
    rate = 450e9 * p.allreduce_efficiency
    switch = p.allreduce_twoshot_s / comm.oneshot_gap_per_byte(8.0, rate)
    assert 256 * 1024 < switch < 16 * 2**20
    small = comm.allreduce_s(8.0, 256 * 1024, p.allreduce_floor_s, p.allreduce_step_s, rate, p.allreduce_twoshot_s)
    assert small == pytest.approx(p.allreduce_floor_s + 3 * p.allreduce_step_s + 7 * 256 * 1024 / rate, rel=1e-12)
    assert 7.0e-6 < small < 9.0e-6  # measured 8.2 us
    r = rates_module.rates(hw, engine("trtllm"))
    shape = model_shape(model("llama-3.1-8b"), 1024.0, 1024.0)
    lay = layout(shape, PlanArrays.from_plans([Plan(tp=8, batch=32), Plan(tp=8, batch=2048)]))
    once = CurveCollectives.of(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
    for scale in (1.0, 0.5, 3.0):
        more = lay.with_batch(lay.batch * scale)
        direct = curve_comm(shape, more, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
        np.testing.assert_allclose(once.at(more.group_tokens, more.micro_tokens).time_s, direct.time_s, rtol=1e-12)
    # 32 layers x 2 all-reduces (attention, FFN) a step
    t = curve_comm(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack).time_s
    assert t[0] == pytest.approx(64 * small, rel=1e-12)
    big = 2048 * 4096 * 2
    assert t[1] == pytest.approx(64 * (p.allreduce_floor_s + 3 * p.allreduce_step_s + 1.75 * big / rate
                                       + p.allreduce_twoshot_s), rel=1e-12)


def test_experts_over_ep_without_attention_dp_all_reduce_instead_of_dispatching():
    # DeepSeek-V3 at tp 8, ep 8, dp 1 on a GB200 NVL72 under TensorRT-LLM, 16 sequences: attention is tensor-
    # parallel, so every rank holds all 16 tokens and nothing is dispatched (TensorRT-LLM's MoE communication
    # factory selects no all-to-all without attention DP). A step charges 61 attention all-reduces, 3 dense-FFN
    # ones (the 3 dense layers) and 58 expert-output ones, each of 16 x 7,168 x 2 B = 229,376 B over the 8 GPUs,
    # and no all-to-all: 122 all-reduces in all. With dp 8 (tp 1) the same 8 GPUs dispatch and combine instead:
    # 116 exchanges.
    from planner.serving.comm import CurveCollectives, curve_comm
    from planner.serving.layout import layout
    from planner.serving.plan import PlanArrays
    from planner.serving.shape import model_shape

    hw = CAT.hardware("gb200-nvl72")
    r = rates_module.rates(hw, engine("trtllm"))
    p = comm.params("trtllm", "gb200")
    rate = hw.fabrics["intra_server"].bytes_per_s * p.allreduce_efficiency
    shape = model_shape(model("deepseek-v3"), 1024.0, 1024.0)
    lay = layout(shape, PlanArrays.from_plans([Plan(tp=8, ep=8, batch=16), Plan(tp=1, dp=8, ep=8, batch=16 * 8)]))
    t = curve_comm(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
    one = comm.allreduce_s(8.0, 16 * 7168 * 2.0, p.allreduce_floor_s, p.allreduce_step_s, rate, p.allreduce_twoshot_s)
    assert t.time_s[0] == pytest.approx((61 + 3 + 58) * one, rel=1e-12)
    share = 16 * 8 * 7168 * 2.0
    exchange = p.alltoall_floor_s + p.alltoall_step_s * 3 + 7 / 8 * share / (
        hw.fabrics["intra_server"].bytes_per_s * p.alltoall_efficiency)
    assert t.time_s[1] == pytest.approx(116 * exchange, rel=1e-12)
    # the fixed point's folded form agrees on both layouts
    once = CurveCollectives.of(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
    np.testing.assert_allclose(once.at(lay.group_tokens, lay.micro_tokens).time_s, t.time_s, rtol=1e-12)
    # and the fabric (the rack's NVLink tier: 8 GPUs span two 4-GPU trays) carries the all-reduce's ring volume,
    # 2 x 7 / 8 of each message, 122 times
    assert t.bytes_by_tier[1, 0] == pytest.approx(122 * 1.75 * 16 * 7168 * 2.0, rel=1e-12)


def test_gb300_tensorrt_llm_all_to_all_is_its_nvlink_kernel_fitted_on_gb200():
    # GB300 has no trtllm_alltoall_perf rows; its NVL72 is GB200's NVLink domain (900 GB/s a GPU each way on
    # both), so its TensorRT-LLM all-to-all takes GB200's native-kernel fit (kernel_fits.comm.NATIVE_TRANSFER),
    # not its DeepEP low-latency rows (a 54 us floor fitted to them, against 7.6 us).
    gb200, gb300 = comm.params("trtllm", "gb200"), comm.params("trtllm", "gb300")
    assert (gb300.alltoall_floor_s, gb300.alltoall_step_s, gb300.alltoall_efficiency) == (
        gb200.alltoall_floor_s, gb200.alltoall_step_s, gb200.alltoall_efficiency)
    assert gb300.alltoall_floor_s < 10e-6
    assert gb300.allreduce_floor_s != gb200.allreduce_floor_s  # its all-reduce stays its own fit
    assert CAT.hardware("gb300-nvl72").fabrics["intra_server"].bytes_per_s == \
        CAT.hardware("gb200-nvl72").fabrics["intra_server"].bytes_per_s
