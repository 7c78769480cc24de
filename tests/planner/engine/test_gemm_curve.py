"""The GEMM kernel curve (planner/engine/kernels/gemm.py): arithmetic, physical bounds, transfer, fit score."""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from planner import quant
from planner.engine.kernels import gemm
from planner.serving.plan import Plan

CAT = Catalogue()
H200 = CAT.gpu("h200-sxm")
ENGINES = ("trtllm", "vllm", "sglang")
# Hand case of the docstring: efficiency 0.8, HBM fraction 0.9, floor 3 us, 16 x 64 tiles, no quantisation pass.
HAND = {"efficiency": 0.8, "hbm_fraction": 0.9, "floor_us": 3.0, "quant_bytes": 0.0, "tile_m": 16, "tile_n": 64}


def test_memory_bound_gemm_by_hand():
    c = gemm.dtype_curve(H200, "bfloat16", HAND, 2.0)
    # 16 tokens, 4,096 -> 4,096: 1 x 64 tiles, one wave of 132 SMs; compute 2 x 16 x 64 x 132 x 4096 / (989e12 x 0.8)
    # = 1.399 us; bytes (16 x 4096 x 2 + 4096 x 4096 x 2 + 16 x 4096 x 2) = 33,816,576 B at 4.8e12 x 0.877 x 0.9
    # = 3.78864e12 B/s -> 8.926 us; time 3 + 8.926 = 11.926 us.
    assert 2 * 16 * 64 * 132 * 4096 / (989e12 * 0.8) == pytest.approx(1.399e-6, rel=1e-3)
    assert float(gemm.gemm_time_s(16.0, 4096.0, 4096.0, c)) == pytest.approx(3e-6 + 33_816_576 / 3.78864e12, rel=1e-9)


def test_compute_bound_gemm_pays_whole_waves_and_the_quantisation_pass():
    c = gemm.dtype_curve(H200, "fp8", {**HAND, "quant_bytes": 3.0}, 1.0)
    # fp8, m 8,192, n 4,096 + 64, k 4,096: 512 x 65 = 33,280 tiles = 252.1 waves of 132 -> 253 waves, each
    # 2 x 16 x 64 x 132 x 4096 FLOP at 1,979e12 x 0.8: 253 x 0.69914 us = 176.88 us. Bytes 8192 x 4096 + 4096 x
    # 4160 + 8192 x 4160 x 2 = 118,489,088 B -> 31.27 us: compute-bound. Quantisation pass 3 B x 8192 x 4096 at
    # 4.2096e12 B/s = 23.91 us. Time 3 + 176.88 + 23.91 = 203.79 us.
    wave = 2 * 16 * 64 * 132 * 4096 / (1979e12 * 0.8)
    expected = 3e-6 + 253 * wave + 3 * 8192 * 4096 / (4.8e12 * 0.877)
    assert float(gemm.gemm_time_s(8192.0, 4160.0, 4096.0, c)) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(203.79e-6, rel=1e-3)


@pytest.mark.parametrize("gpu_name", CAT.gpu_names())
@pytest.mark.parametrize("engine", (*ENGINES, "default"))
def test_no_curve_beats_the_datasheet_peak_or_the_achievable_bandwidth(gpu_name, engine):
    gpu = CAT.gpu(gpu_name)
    c = gemm.curve(gpu, engine)
    achievable = gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction
    assert np.all(c.bytes_per_s <= achievable * (1 + 1e-12))
    for i, name in enumerate(quant.MODE_NAMES):
        dtype = quant.MODES[name].compute_dtype
        peak = gpu.peak_flop_per_s.get(dtype) or gpu.peak_flop_per_s["bf16"]  # weight-only: the bf16 rate
        assert c.flop_per_s[i] <= peak * (1 + 1e-12)
        assert c.floor_s[i] > 0
    # Random shapes: never below every FLOP at the dtype's peak, nor every byte at the achievable bandwidth.
    rng = np.random.default_rng(0)
    m, n, k = (rng.integers(1, 20_000, 2_000).astype(float) for _ in range(3))
    for i, name in enumerate(quant.MODE_NAMES):
        peak = max(gpu.peak_flop_per_s.get(quant.MODES[name].compute_dtype) or 0.0, gpu.peak_flop_per_s["bf16"])
        t = gemm.gemm_time_s(m, n, k, c.take(i))
        weights = k * n * quant.BYTES_PER_ELEMENT[i]
        assert np.all(t >= 2 * m * n * k / peak) and np.all(t >= weights / achievable)
    # the row of block-scaled FP8 weights: 1 B a weight, at most the fp8 peak (the bf16 one without FP8 tensor cores)
    block = c.take(gemm.FP8_BLOCK_ROW)
    peak = max(gpu.peak_flop_per_s.get("fp8") or 0.0, gpu.peak_flop_per_s["bf16"])
    t = gemm.gemm_time_s(m, n, k, block)
    assert block.floor_s > 0 and block.weight_bytes == 1.0
    assert np.all(t >= 2 * m * n * k / peak) and np.all(t >= k * n / achievable)


def test_default_engine_takes_the_median_of_the_three():
    by_engine = {e: gemm.params("h200-sxm", e)[0]["bfloat16"] for e in ENGINES}
    default, measured = gemm.params("h200-sxm", "default")
    assert measured
    for key in gemm.PARAMS:
        assert default["bfloat16"][key] == pytest.approx(np.median([by_engine[e][key] for e in ENGINES]), rel=1e-12)


@pytest.mark.parametrize("gpu_name", ("mi300x", "mi355x", "h800"))
def test_a_gpu_without_rows_takes_the_median_efficiencies_on_its_own_datasheet(gpu_name):
    gpu = CAT.gpu(gpu_name)
    c = gemm.curve(gpu, "vllm")
    assert not c.measured and gemm.curve(H200, "vllm").measured
    fitted = gemm.fitted()
    eff = np.median([fitted[g]["vllm"]["bfloat16"]["efficiency"] for g in fitted])
    frac = np.median([fitted[g]["vllm"]["bfloat16"]["hbm_fraction"] for g in fitted])
    bf16 = quant.mode_index("bf16")
    # Its own bf16 peak (MI300X: 1,307.4 TFLOP/s) x the median vLLM bf16 efficiency of the six measured GPUs;
    # its own achievable HBM (bandwidth x its catalogue efficiency) x the median HBM fraction.
    assert c.flop_per_s[bf16] == pytest.approx(gpu.peak_flop_per_s["bf16"] * eff, rel=1e-12)
    assert c.bytes_per_s[bf16] == pytest.approx(gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction * frac, rel=1e-12)
    assert c.sm_count == {"mi300x": 304, "mi355x": 256, "h800": 132}[gpu_name]


def test_fp4_on_hopper_runs_weight_only_at_the_bf16_rate():
    c = gemm.curve(H200, "trtllm")
    bf16, fp4 = quant.mode_index("bf16"), quant.mode_index("fp4")
    assert c.flop_per_s[fp4] == c.flop_per_s[bf16] and c.activation_bytes[fp4] == 2.0
    assert c.weight_bytes[fp4] == 0.5  # the weights still stream at 4 bits


@pytest.mark.slow
def test_fit_scores_on_the_h200_tables():
    pytest.importorskip("pyarrow")
    from planner.calibration.kernel_fits import gemm as fits

    scores = {(s.system, s.engine, s.curve): s for s in fits.score()}
    # Every row of gemm_perf scored but vLLM's fp8_block rows, which time the host (kernel_fits.gemm.HOST_TIMED):
    # 18 files, 66 (system, engine, dtype) groups less vLLM's six fp8_block ones (B200, B300, GB200, GB300, H100, H200).
    assert len(scores) == 66 - 6
    assert not [key for key in scores if key[1] == "vllm" and key[2] == "gemm fp8_block"]
    # H200 TensorRT-LLM: bf16 11.3 % and fp8 6.2 % MAPE over 35,700 rows each (docs/accuracy.md, Kernel curves).
    bf16, fp8 = scores[("h200_sxm", "trtllm", "gemm bfloat16")], scores[("h200_sxm", "trtllm", "gemm fp8")]
    assert bf16.rows == fp8.rows == 35_700
    assert bf16.mape_pct < 12.5 and fp8.mape_pct < 7.5


def test_the_row_sum_is_the_sum_of_single_gemms():
    # planner.serving.roofline.gemm_s sums many GEMMs through RowsCurve.sum_time_s: the same arithmetic reordered.
    c = gemm.curve(CAT.gpu("b200"), "trtllm")
    rng = np.random.default_rng(1)
    mode = rng.integers(0, len(quant.MODE_NAMES), 500)
    m, tp = rng.integers(0, 9000, 500).astype(float), rng.choice([1.0, 2.0, 4.0, 8.0], 500)
    dims = [(6144, 4096, "n"), (4096, 4096, "k"), (256, 7168, "")]
    one = c.take(mode)
    expected = (gemm.gemm_time_s(m, 6144 / tp, 4096, one) + gemm.gemm_time_s(m, 4096, 4096 / tp, one)
                + gemm.gemm_time_s(m, 256, 7168, one))
    assert np.allclose(gemm.rows(c, mode, m).sum_time_s(dims, 1.0 / tp), expected, rtol=1e-12, atol=0)


def test_prepared_gemm_shapes_sum_as_the_row_sum_bit_for_bit():
    # The serving fixed point prepares each GEMM's m-free parts once (gemm.GemmShapes, gemm.modes) and sums at any
    # rows m: the same arithmetic on the same inputs as RowsCurve.sum_time_s, so the same bits.
    c = gemm.curve(CAT.gpu("h200"), "vllm")
    rng = np.random.default_rng(2)
    mode, tp = rng.integers(0, len(quant.MODE_NAMES), 500), rng.choice([1.0, 2.0, 4.0, 8.0], 500)
    dims = [(10240, 8192, "n"), (8192, 8192, "k"), (128256, 8192, "")]
    prepared = gemm.GemmShapes.of(gemm.modes(c, mode), dims, 1.0 / tp)
    for m in (rng.integers(1, 9000, 500).astype(float), np.full(500, 16.0)):
        direct = gemm.rows(c, mode, m).sum_time_s(dims, 1.0 / tp)
        assert np.array_equal(gemm.modes(c, mode).at(m).sum_shapes_s(prepared), direct)
        assert direct.min() > 0  # not vacuous: every row pays at least its three launch floors
        # one GEMM (the LM head's) starts from its floor itself, not 1 x floor: the same bits
        one = gemm.GemmShapes.of(gemm.modes(c, mode), dims[2:], 1.0 / tp)
        assert np.array_equal(gemm.modes(c, mode).at(m).sum_shapes_s(one), gemm.rows(c, mode, m).sum_time_s(dims[2:],
                                                                                                         1.0 / tp))


@pytest.mark.parametrize("mode_name", ["bf16", "fp8"])
def test_a_mode_every_row_shares_takes_scalars_with_the_same_bits(mode_name):
    # gemm.rows and gemm.modes take a mode array every row shares (the LM head's, pinned by the engine) as scalar
    # constants instead of a look-up per row: the same arithmetic, so the same bits as the per-row look-up, which a
    # second mode in the array forces (its last row, dropped from the comparison).
    c = gemm.curve(CAT.gpu("h200"), "trtllm")
    rng = np.random.default_rng(3)
    m, tp = rng.integers(1, 9000, 501).astype(float), rng.choice([1.0, 2.0, 4.0, 8.0], 501)
    dims = [(10240, 8192, "n"), (8192, 8192, "k"), (128256, 8192, "")]
    shared = np.full(501, quant.mode_index(mode_name))
    mixed = shared.copy()
    mixed[-1] = quant.mode_index("bf16" if mode_name == "fp8" else "fp8")
    assert isinstance(gemm.rows(c, shared, m).floor_s, float)  # the scalar path is the one taken
    assert isinstance(gemm.rows(c, mixed, m).floor_s, np.ndarray)
    direct = gemm.rows(c, shared, m).sum_time_s(dims, 1.0 / tp)
    assert np.array_equal(direct[:-1], gemm.rows(c, mixed, m).sum_time_s(dims, 1.0 / tp)[:-1])
    prepared = gemm.GemmShapes.of(gemm.modes(c, shared), dims, 1.0 / tp)
    assert np.array_equal(gemm.modes(c, shared).at(m).sum_shapes_s(prepared), direct)
    assert direct.min() > 3 * float(c.floor_s[quant.mode_index(mode_name)])  # three floors and more per row


def test_block_scaled_fp8_weights_take_the_engines_block_scaled_kernel():
    # gemm.toml: ["h200-sxm".trtllm] fp8 (per-tensor) floor 12.75 us, fp8_block (DeepGEMM) floor 4.25 us, 64 x 128
    # tiles: the curve's row after the modes is the fp8_block fit, at 1 B a weight.
    gpu = CAT.gpu("h200-sxm")
    trt = gemm.curve(gpu, "trtllm")
    assert gemm.FP8_BLOCK_ROW == len(quant.MODE_NAMES) == trt.floor_s.size - 1
    assert trt.floor_s[quant.mode_index("fp8")] == pytest.approx(12.75e-6)
    block = trt.take(gemm.FP8_BLOCK_ROW)
    assert (block.floor_s, block.tile_m, block.tile_n) == (pytest.approx(4.25e-6), 64, 128)
    assert block.flop_per_s == pytest.approx(gpu.peak_flop_per_s["fp8"] * 0.64)
    # vLLM's fp8_block rows time the host (kernel_fits.gemm.HOST_TIMED: none fitted), so its row is the fp8 one
    vllm = gemm.curve(gpu, "vllm")
    assert "fp8_block" not in gemm.params("h200-sxm", "vllm")[0]
    assert vllm.take(gemm.FP8_BLOCK_ROW) == vllm.take(quant.mode_index("fp8"))


def test_a_model_released_with_fp8_block_scales_runs_its_fp8_blocks_on_that_row():
    from models.catalogue import model
    from planner.serving.plan import PlanArrays
    from planner.serving.roofline import gemm_rows
    from planner.serving.shape import model_shape

    # DeepSeek-V3's config.json: quantization_config {quant_method fp8, weight_block_size [128, 128]}; Llama-3.1-8B's
    # has none (bf16 weights; an FP8 plan quantises them per tensor).
    assert model("deepseek-v3").block_scaled_fp8 and not model("llama-3.1-8b").block_scaled_fp8
    plans = PlanArrays.from_plans([Plan(tp=8, batch=8, quant=q) for q in ("fp8", "bf16", "fp4")])
    dsv3, llama = (model_shape(model(n), 1024.0, 1024.0) for n in ("deepseek-v3", "llama-3.1-8b"))
    assert gemm_rows(dsv3, plans.quant).tolist() == [gemm.FP8_BLOCK_ROW, quant.mode_index("bf16"),
                                                       quant.mode_index("fp4")]
    assert gemm_rows(llama, plans.quant) is plans.quant
