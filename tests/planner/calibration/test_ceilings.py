"""Hand-computed: the measured-rate screen (the fastest GEMM the kernel tables measured on a GPU)."""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models import counts
from models.catalogue import model
from planner.calibration import ceilings, screen
from planner.calibration.measurements import Measurement, MeasurementSet

# Llama-3.1-8B FP8 on one H200 under vLLM (the shipped file's rows). Per decode token 15,009,316,864 linear
# FLOPs (2 x the parameters less the input embedding) plus 4 x 32 layers x 32 heads x 128 x isl of attention;
# per prompt isl x 2 x (7,504,658,432 - 525,336,576) linear, the last token's LM head 2 x 525,336,576, and causal
# attention. H200: FP8 dense peak 1,979 TFLOP/s; fastest measured FP8 GEMM 1,677.6 TFLOP/s (vLLM's gemm_perf row
# 512 x 65,536 x 12,288 in 0.4916 ms: 2 x 512 x 65,536 x 12,288 / 0.4916e-3 = 1.6776e15).
H200_FP8_MEASURED = 1677.6e12


def _row(batch, isl, tpot_s, ttft_s):
    return Measurement(line=2, label="hand", model="llama-3.1-8b", system="hgx-h200", gpu=None, engine="vllm",
                       tp=1, pp=1, ep=1, dp=1, batch=batch, quant="fp8", kv_quant="fp8", isl=isl, osl=100,
                       tpot_s=tpot_s, ttft_s=ttft_s, tok_per_gpu=None)


def _needed_flop(spec, batch, isl, tpot_s, ttft_s):
    decode = batch * (15_009_316_864 + 4 * 32 * 32 * 128 * isl)
    prompt = isl * 2 * (7_504_658_432 - 525_336_576) + 2 * 525_336_576 \
        + float(counts.prefill_attention_flops(spec, isl))
    return decode + batch / (99 + ttft_s / tpot_s) * prompt  # Little's law: prompts a step


def test_h200_fp8_ceiling_is_the_tables_fastest_row():
    assert ceilings.measured_flop_per_s("h200-sxm", "fp8") == pytest.approx(H200_FP8_MEASURED)
    assert ceilings.measured_flop_per_s("h200-sxm", "int8") == pytest.approx(940.1e12)  # no int8 rows: BF16's
    assert ceilings.measured_flop_per_s("mi300x", "fp8") is None  # no kernel rows


def test_counted_out_row():
    # 64 requests of 2,000 in / 100 out at TTFT 121.73 ms, TPOT 9.74 ms: 64 / (99 + 121.73 / 9.74) = 0.574 prompts a
    # step, 1.028 + 0.574 x 28.97 = 17.65 TFLOP a step: 8.92 ms at the 1,979 TFLOP/s peak (kept by the datasheet
    # floor) but 10.52 ms at the 1,677.6 TFLOP/s ever measured, 1.08x the measured 9.74 ms: counted out.
    hw, spec = Catalogue().hardware("hgx-h200"), model("llama-3.1-8b")
    flop = _needed_flop(spec, 64, 2000, 9.74e-3, 121.73e-3)
    assert flop == pytest.approx(17.654e12, rel=1e-4)
    assert flop / H200_FP8_MEASURED == pytest.approx(10.524e-3, rel=1e-3)
    row = _row(64, 2000, 9.74e-3, 121.73e-3)
    assert screen.below_floor(row, spec, hw) is None
    assert screen.below_measured_ceiling(row, spec, hw) == screen.MEASURED_CEILING_REASON


def test_kept_row():
    # 112 requests of 1,000 in / 100 out at TTFT 71.91 ms, TPOT 11.25 ms: 112 / (99 + 71.91 / 11.25) = 1.063 prompts
    # a step, 1.740 + 1.063 x 14.22 = 16.85 TFLOP: 10.05 ms at the measured rate, 0.89 of the 11.25 ms step: kept.
    hw, spec = Catalogue().hardware("hgx-h200"), model("llama-3.1-8b")
    flop = _needed_flop(spec, 112, 1000, 11.25e-3, 71.91e-3)
    assert flop / H200_FP8_MEASURED == pytest.approx(10.046e-3, rel=1e-3)
    assert screen.below_measured_ceiling(_row(112, 1000, 11.25e-3, 71.91e-3), spec, hw) is None


def test_resolve_counts_the_screen_and_can_leave_it_off():
    rows = (_row(64, 2000, 9.74e-3, 121.73e-3), _row(112, 1000, 11.25e-3, 71.91e-3))
    mset = MeasurementSet(path="hand.csv", kind="simple", rows=rows, skipped={})
    kept, _ = screen.resolve(mset, Catalogue())
    # The 112-request row passes this screen (test_kept_row) but not the measured-kernel floor: its step's own
    # GEMMs took 10.4 ms in the kernel tables (planner.calibration.kernel_chain), its KV read and the prompts'
    # attention 1.7 ms more: 12.1 ms against the measured 11.25
    assert not kept.rows and kept.skipped == {screen.MEASURED_CEILING_REASON: 1, screen.KERNEL_CHAIN_REASON: 1}
    kept, _ = screen.resolve(mset, Catalogue(), measured_ceiling=False)
    assert [m.batch for m in kept.rows] == [64, 112] and kept.skipped == {}


def test_ceilings_match_the_kernel_tables():
    pytest.importorskip("pyarrow")
    from planner.calibration import kernels

    dtypes = {"bf16": ("bfloat16",), "fp8": ("fp8", "fp8_block"), "fp4": ("nvfp4",)}
    for system, gpu in kernels.SYSTEM_GPUS.items():
        frames = kernels.load("gemm_perf", system=system, columns=["gemm_dtype", "m", "n", "k"])
        for dtype, names in dtypes.items():
            rates = [2.0 * f["m"] * f["n"] * f["k"] / f["latency_s"] for f in frames]
            best = max((float(r[np.isin(f["gemm_dtype"], names)].max()) for f, r in zip(frames, rates)
                        if np.isin(f["gemm_dtype"], names).any()), default=None)
            entry = ceilings.MEASURED_GEMM_TFLOPS[gpu].get(dtype)
            if best is None:
                assert entry is None, (gpu, dtype)
            else:
                assert entry * 1e12 == pytest.approx(best, rel=1e-4), (gpu, dtype)
