"""Hand-computed: the physical floor that rows of a measurements file must not beat."""

import pytest

from hardware.catalogue import Catalogue
from models import counts
from models.catalogue import model
from planner.calibration import screen
from planner.calibration.measurements import Measurement, MeasurementSet

# Llama-3.1-8B in BF16 on one H200 (4.8 TB/s, 989 TFLOP/s BF16), batch 1, 1,024 in / 128 out, BF16 KV.
# Non-expert weights one GPU reads per step (embedding and LM head: the larger matrix once):
#   (32 x 218,103,808 + 525,336,576) params x 2 B = 15,009,316,864 B
# KV cache at 1,024 tokens: 1,024 x 131,072 B = 134,217,728 B
# TPOT floor: (15,009,316,864 + 134,217,728) B / 4.8e12 B/s = 3.15490 ms (the ~15 GFLOP take 15 us).
TPOT_FLOOR_S = (15_009_316_864 + 134_217_728) / 4.8e12
# TTFT floor: 1,024 prompt tokens x 2 x (7,504,658,432 - 525,336,576) linear params (LM head for the
# last token only: + 2 x 525,336,576) plus causal attention, at 989e12 FLOP/s.
LINEAR_PROMPT_FLOP = 1024 * 2 * (7_504_658_432 - 525_336_576) + 2 * 525_336_576


def _row(tpot_s, ttft_s, **row):
    fields = dict(batch=1, quant="bf16", kv_quant="bf16", isl=1024, osl=128) | row
    return Measurement(line=2, label="hand", model="llama-3.1-8b", system="hgx-h200", gpu=None, engine="vllm",
                       tp=1, pp=1, ep=1, dp=1, tpot_s=tpot_s, ttft_s=ttft_s, tok_per_gpu=None, **fields)


def test_floor_by_hand():
    hw = Catalogue().hardware("hgx-h200")
    spec = model("llama-3.1-8b")
    floor = screen.physical_floor(_row(0.01, 0.1), spec, hw)
    assert floor.tpot_s == pytest.approx(TPOT_FLOOR_S, rel=1e-9)
    attention = float(counts.prefill_attention_flops(spec, 1024))
    assert floor.ttft_s == pytest.approx((LINEAR_PROMPT_FLOP + attention) / 989e12, rel=1e-9)
    assert floor.running == 1


def test_rows_below_the_floor_are_counted_not_kept():
    cat = Catalogue()
    rows = [_row(TPOT_FLOOR_S * 0.99, 0.1), _row(TPOT_FLOOR_S * 1.01, 0.1), _row(0.01, 1e-6)]
    mset = MeasurementSet(path="hand.csv", kind="simple", rows=tuple(rows), skipped={})
    kept, _ = screen.resolve(mset, cat, measured_ceiling=False)  # the datasheet floors alone
    assert [m.tpot_s for m in kept.rows] == [TPOT_FLOOR_S * 1.01]
    assert kept.skipped == {"TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1,
                            "TTFT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1}
    # 1 % above the datasheet floor is still below what the kernel tables measured for the step's own GEMMs
    # (its 16 GB of BF16 weights streamed by the measured kernels at batch 1): the measured-kernel floor counts it
    # out too (planner.calibration.kernel_chain; test_kernel_chain.py).
    if screen.kernels.readable():
        kept, _ = screen.resolve(mset, cat)
        assert not kept.rows and kept.skipped[screen.KERNEL_CHAIN_REASON] == 1


# Interleaved-prefill floor, on the shipped file's tightest row: Llama-3.1-8B FP8 on one H200 under
# vLLM, 64 requests of 2,000 in / 100 out at TTFT 121.73 ms, TPOT 9.74 ms (FP8 dense peak 1,979 TFLOP/s).
# Decode step: 64 x (15,009,316,864 linear + 1,048,576,000 attention at 2,000 tokens) FLOPs
#   (attention 4 x 32 layers x 32 heads x 128 x 2,000 = 1,048,576,000).
DECODE_STEP_FLOP = 64 * (15_009_316_864 + 1_048_576_000)
# One prompt: 2,000 x 2 x (7,504,658,432 - 525,336,576) + 2 x 525,336,576 (last token's LM head) + causal attention.
PROMPT_LINEAR_FLOP = 2000 * 2 * (7_504_658_432 - 525_336_576) + 2 * 525_336_576


def _fp8_row(tpot_s, ttft_s):
    return _row(tpot_s, ttft_s, batch=64, quant="fp8", kv_quant="fp8", isl=2000, osl=100)


def test_interleaved_prefill_floor_by_hand():
    hw = Catalogue().hardware("hgx-h200")
    spec = model("llama-3.1-8b")
    floor = screen.physical_floor(_fp8_row(9.74e-3, 121.73e-3), spec, hw)
    prompt = PROMPT_LINEAR_FLOP + float(counts.prefill_attention_flops(spec, 2000))
    # Little's law: 64 / (99 + 121.73 / 9.74) = 0.5740 prompts a step; (1.028 + 0.574 x 28.97) TFLOP
    # / 1,979 TFLOP/s = 8.92 ms, 92 % of the measured 9.74 ms: the row is possible, and kept.
    prompts = 64 / (99 + 121.73 / 9.74)
    expected = (DECODE_STEP_FLOP + prompts * prompt) / 1979e12
    assert floor.interleaved_tpot_s(64, 100, 9.74e-3, 121.73e-3) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(8.92e-3, rel=1e-3)
    assert screen.below_floor(_fp8_row(9.74e-3, 121.73e-3), spec, hw) is None


def test_rows_below_the_interleaved_floor_are_counted_out():
    # The same row at TPOT 8.5 ms: 64 / (99 + 121.73 / 8.5) = 0.5648 prompts a step need
    # (1.028 + 0.5648 x 28.97) TFLOP / 1,979 TFLOP/s = 8.79 ms > 8.5 ms; its decode step alone
    # (8.0 GB of FP8 weights and 64 x 2,000 x 65,536 B of KV at 4.8 TB/s, ~3.3 ms) is within reach.
    cat = Catalogue()
    # (The datasheet floor alone: the 9.74 ms row is counted out by the measured-rate screen, test_ceilings.py.)
    rows = [_fp8_row(8.5e-3, 121.73e-3), _fp8_row(9.74e-3, 121.73e-3)]
    kept, _ = screen.resolve(MeasurementSet(path="hand.csv", kind="simple", rows=tuple(rows), skipped={}), cat,
                             measured_ceiling=False)
    assert [m.tpot_s for m in kept.rows] == [9.74e-3]
    assert kept.skipped == {"TPOT below the interleaved-prefill floor (decode plus the prompts TTFT and TPOT "
                            "imply, at peak)": 1}
