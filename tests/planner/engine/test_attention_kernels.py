"""Attention kernel curves (planner.engine.kernels.attention): arithmetic, bounds, engines, transfer."""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from planner.engine.kernels import attention

CAT = Catalogue()
MEASURED = ("h100-sxm", "h200-sxm", "b200", "gb200", "b300", "gb300")


def test_curve_hand_computed():
    # p = (5 us floor, 0 per unit, 64 half units, byte scale 1.25, flop scale 2); 64 units: occupancy 0.5.
    # 48 MB / 4.2 TB/s = 11.4286 us, x 1.25 = 14.2857 us; 1 GFLOP / 989 TFLOP/s = 1.01112 us, x 2 = 2.02224 us;
    # (14.2857 + 2.02224) / 0.5 = 32.6159 us; + 5 us = 37.6159 us.
    p = np.array([5e-6, 0.0, 64.0, 1.25, 2.0])
    t = attention.time_s(p, 1.0, 64.0, 48e6, 1e9, 4.2e12, 989e12)
    assert t == pytest.approx(37.6159e-6, rel=1e-5)
    # Two calls and 1 ns per unit add 2 x (5 us + 64 ns) = 10.128 us to the work term.
    p2 = np.array([5e-6, 1e-9, 64.0, 1.25, 2.0])
    assert attention.time_s(p2, 2.0, 64.0, 48e6, 1e9, 4.2e12, 989e12) == pytest.approx(32.6159e-6 + 10.128e-6,
                                                                                        rel=1e-5)


def test_no_bytes_as_a_scalar_zero_times_as_zero_bytes_per_row():
    # Prefill attention reads no KV bytes (a scalar 0.0): the curve then takes the FLOPs' term alone, the same bits
    # as adding 0.0 x byte scale to it on every row.
    p = np.array([5e-6, 1e-9, 64.0, 1.25, 2.0])
    rng = np.random.default_rng(4)
    calls, units, flops = rng.random(1000) * 80, rng.random(1000) * 500, rng.random(1000) * 1e12
    flops[:10] = 0.0
    scalar = attention.time_s(p, calls, units, 0.0, flops, 4.2e12, 989e12)
    assert np.array_equal(scalar, attention.time_s(p, calls, units, np.zeros(1000), flops, 4.2e12, 989e12))
    assert scalar.min() > 0  # not vacuous: every row pays its calls' floors


def test_shipped_parameters_are_physical():
    # Every (engine, GPU, kind): no negative floor or per-unit cost, and scales >= 1 (efficiency <= 1).
    data = attention._data()
    assert set(data) == {"sglang", "trtllm", "vllm"}
    for engine, gpus in data.items():
        assert set(gpus) == set(MEASURED), engine
        for gpu, kinds in gpus.items():
            for kind, p in kinds.items():
                floor, unit, half, byte_scale, flop_scale = p
                assert floor >= 0 and unit >= 0 and half > 0, (engine, gpu, kind)
                assert byte_scale >= 1 and flop_scale >= 1, (engine, gpu, kind)


@pytest.mark.parametrize("engine", ["default", "trtllm", "vllm", "sglang"])
@pytest.mark.parametrize("gpu", ["h200-sxm", "b200", "mi355x", "h800"])
def test_never_below_the_floor(engine, gpu):
    # Random work: no call beats its bytes at achievable HBM nor its FLOPs at the BF16 dense peak.
    k = attention.for_gpu(engine, CAT.gpu(gpu))
    rng = np.random.default_rng(7)
    units = 10 ** rng.uniform(-1, 5, 2000)
    nbytes = 10 ** rng.uniform(0, 10, 2000)
    flops = 10 ** rng.uniform(0, 13, 2000)
    for kind in attention.KINDS:
        t = k.time_s(kind, 1.0, units, nbytes, flops)
        floor = np.maximum(nbytes / k.hbm_bytes_per_s, flops / k.peak_flop_per_s)
        assert np.all(t >= floor)
    spec = CAT.gpu(gpu)
    assert k.hbm_bytes_per_s == spec.hbm_bytes_per_s * spec.hbm_efficiency_fraction
    assert k.peak_flop_per_s == spec.peak_flop_per_s["bf16"]


def test_default_engine_is_the_median_of_engines():
    data = attention._data()
    for kind in attention.KINDS:
        rows = [data[e]["h200-sxm"][kind] for e in data if kind in data[e]["h200-sxm"]]
        expect = np.median(np.array(rows), axis=0)
        np.testing.assert_array_equal(attention.curves("default", "h200-sxm").params[kind], expect)
    # A user profile name the file does not know takes the default's curves.
    got = attention.curves("my-calibrated-profile", "h200-sxm").params["decode"]
    np.testing.assert_array_equal(got, attention.curves("default", "h200-sxm").params["decode"])


def test_vllm_mla_takes_the_other_engines_median():
    # The kernel tables have no vLLM MLA-core rows: vLLM's MLA curves are TensorRT-LLM's and SGLang's median.
    data = attention._data()
    assert "mla_decode" not in data["vllm"]["h200-sxm"]
    expect = np.median(np.array([data["trtllm"]["h200-sxm"]["mla_decode"],
                                 data["sglang"]["h200-sxm"]["mla_decode"]]), axis=0)
    np.testing.assert_array_equal(attention.curves("vllm", "h200-sxm").params["mla_decode"], expect)


def test_transferred_gpu():
    # MI300X has no kernel rows: the median over the six measured GPUs of the engine, against its own
    # datasheet bandwidth and peak.
    data = attention._data()
    mi = attention.curves("trtllm", "mi300x")
    assert not mi.measured and attention.curves("trtllm", "h200-sxm").measured
    expect = np.median(np.array([data["trtllm"][g]["decode"] for g in MEASURED]), axis=0)
    np.testing.assert_array_equal(mi.params["decode"], expect)
    spec = CAT.gpu("mi300x")
    k = attention.for_gpu("trtllm", spec)
    assert k.hbm_bytes_per_s == spec.hbm_bytes_per_s * spec.hbm_efficiency_fraction
    assert k.peak_flop_per_s == spec.peak_flop_per_s["bf16"]


def test_fp8_kv_selects_the_twin_curve_per_row():
    # Decode kinds have an _fp8 twin for one-byte KV caches; a mixed array picks per row.
    k = attention.for_gpu("sglang", CAT.gpu("h200-sxm"))
    bf16_p, fp8_p = k.curves.params["mla_decode"], k.curves.params["mla_decode_fp8"]
    assert not np.array_equal(bf16_p, fp8_p)
    args = (61.0, np.array([32.0, 32.0]), np.array([4.6e9, 4.6e9]), np.array([2.8e11, 2.8e11]))
    mixed = k.time_s("mla_decode", *args, kv_fp8=np.array([False, True]))
    assert mixed[0] == attention.time_s(bf16_p, *(a if np.ndim(a) == 0 else a[0] for a in args),
                                        k.hbm_bytes_per_s, k.peak_flop_per_s)
    assert mixed[1] == attention.time_s(fp8_p, *(a if np.ndim(a) == 0 else a[1] for a in args),
                                        k.hbm_bytes_per_s, k.peak_flop_per_s)
    # Prefill has no twin: the flag changes nothing.
    assert k.time_s("prefill", 1.0, 64.0, 0.0, 1e12, kv_fp8=True) == k.time_s("prefill", 1.0, 64.0, 0.0, 1e12)


def test_sglang_fp8_mla_decode_runs_slower_than_bf16_on_h200():
    # The kernel tables: SGLang's MLA decode on H200 at 128 heads peaks at 619 TFLOP/s with a BF16 KV
    # cache but 134 TFLOP/s with FP8 (generation_mla_perf), so the same work takes longer on FP8 despite
    # half the bytes. 32 sequences x 4,096 tokens, 61 layers: bytes 32 x 4096 x 576 x 61 x (2 or 1),
    # FLOPs 32 x 128 x 4096 x (2 x 576 + 2 x 512) x 61.
    k = attention.for_gpu("sglang", CAT.gpu("h200-sxm"))
    flops = 32 * 128 * 4096 * (2 * 576 + 2 * 512) * 61
    bf16 = k.time_s("mla_decode", 61, 32, 32 * 4096 * 576 * 61 * 2, flops)
    fp8 = k.time_s("mla_decode", 61, 32, 32 * 4096 * 576 * 61 * 1, flops, kv_fp8=True)
    assert fp8 > 1.5 * bf16
