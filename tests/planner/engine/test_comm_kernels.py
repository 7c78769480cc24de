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
        ar = comm.allreduce_s(n, message, k.allreduce_floor_s[t], k.allreduce_step_s[t], k.allreduce_bytes_per_s[t])
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
