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


def _row(tpot_s, ttft_s):
    return Measurement(line=2, label="hand", model="llama-3.1-8b", system="hgx-h200", gpu=None, engine="vllm",
                       tp=1, pp=1, ep=1, dp=1, batch=1, quant="bf16", kv_quant="bf16", isl=1024, osl=128,
                       tpot_s=tpot_s, ttft_s=ttft_s, tok_per_gpu=None)


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
    kept, _ = screen.resolve(MeasurementSet(path="hand.csv", kind="simple", rows=tuple(rows), skipped={}), cat)
    assert [m.tpot_s for m in kept.rows] == [TPOT_FLOOR_S * 1.01]
    assert kept.skipped == {"TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1,
                            "TTFT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1}
