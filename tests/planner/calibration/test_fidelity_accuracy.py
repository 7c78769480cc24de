"""Anchored: the shipped defaults' accuracy on calibration/ (bench/accuracy.py), as measured.

Measured with the shipped defaults (bench/accuracy.py, docs/accuracy.md) on the kernel-curve cost
model (GEMMs, attention, MoE layers and collectives timed by curves fitted to measured kernels; the
end-to-end fit keeps only engine behaviour: overlap, step/kernel/sequence overheads, TTFT wait and
fixed cost): TPOT MAPE 13.8 % overall (11.6 % on the fitted families, 21.9 % on the held-out Llama
family), TTFT MAPE 30.1 % (median 17.3 %), published median 11.2 %. Before the curves, with ten
fitted efficiency knobs per engine (two of them at their physical bounds): 11.1, 8.3, 21.7, 26.0,
15.7 and 16.1 %; the curves traded that fit for kernels that are each measured (docs/accuracy.md
"Kernel curves"). Of the issue's goals (TPOT <= 10 %, TTFT <= 20 %, published <= 12 %) only the last is met;
these tests pin today's levels with a little headroom, so that a change that loses accuracy fails.
The data ship in the repository (calibration/, see its README), so these tests run on a bare clone.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "accuracy.py"


def _bench():
    spec = importlib.util.spec_from_file_location("rackplan_bench_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


acc = _bench()


@pytest.fixture(scope="module")
def silicon():
    from hardware.catalogue import Catalogue
    from planner.calibration import fit as cal
    from planner.engine.profile import engine

    rows, hardware, skipped = acc.silicon(Catalogue())
    pred = cal.predict(rows, hardware, acc.profiles_for(rows, {n: engine(n) for n in ("default", *acc.ENGINES)}))
    return rows, pred, skipped, cal


def _errors(silicon, keep):
    rows, pred, _, cal = silicon
    idx = np.array([i for i, m in enumerate(rows) if keep(m)])
    meas = cal.measured(rows)
    return cal.Errors.of(pred.tpot_s[idx], meas.tpot_s[idx]), cal.Errors.of(pred.ttft_s[idx], meas.ttft_s[idx])


def test_rows_scored_and_skipped(silicon):
    rows, _, skipped, _ = silicon
    # 1,607 rows: 293 disaggregated, 132 wider than one server, 23 whose provenance records a
    # concurrency other than batch_size x attention_dp_size (13 Qwen3-32B / GB200, 5 gpt-oss-120b /
    # H100 / TensorRT-LLM, 3 Qwen3-32B NVFP4, 2 DeepSeek-V3.1 NVFP4; they include the two
    # Qwen3-32B / GB200 repeat pairs that also contradict each other, 8.1 vs 41.9 ms) and 1 faster
    # than physics allows (gpt-oss-120b, H100 x 4, vLLM, concurrency 512 at 8192/1024: TPOT
    # 5.46 ms, but reading its weight share and the KV cache of 512 sequences of 8,192 tokens takes
    # 6.22 ms at the 3.35 TB/s peak, planner.calibration.screen.physical_floor) and 1 that needs more
    # FLOP/s than any GEMM measured on its GPU (Llama-3.1-8B FP8 / H200 / vLLM, 64 x 2,000/100 at TTFT
    # 121.73 ms, TPOT 9.74 ms: 17.65 TFLOP a step, 10.52 ms at the 1,677.6 TFLOP/s the kernel tables
    # measured, screen.below_measured_ceiling) are counted out; 1,157 scored, of which 17 saturated
    # runs are reported apart.
    assert skipped == {"disaggregated run (prefill and decode pools measured together)": 293,
                       "layout wider than the scale-up domain": 132,
                       "recorded silicon_concurrency differs from batch_size x attention_dp_size": 23,
                       "TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1,
                       acc.screen.MEASURED_CEILING_REASON: 1}
    assert len(rows) == 1157 and sum(acc.saturated(m) for m in rows) == 17


def test_fitted_families_tpot(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) != acc.HELD_OUT_FAMILY)
    assert tpot.n == 897
    assert tpot.mape <= 12.3 and tpot.median <= 10.0  # measured 11.4 / 9.0
    assert ttft.median <= 15.0 and ttft.mape <= 23.0  # measured 14.0 / 21.1


def test_held_out_family(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) == acc.HELD_OUT_FAMILY)
    assert tpot.n == 243
    assert tpot.median <= 11.5 and tpot.mape <= 23.0  # measured 9.6 / 20.4
    assert ttft.mape <= 59.0  # measured 55.7 (Llama-3.1-8B / H200 / vLLM: +85 % TPOT, +300 % TTFT, below)


def test_overall(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m))
    assert tpot.mape <= 14.5  # measured 13.3
    assert ttft.median <= 18.0  # measured 16.4
    assert ttft.mape <= 30.0  # measured 28.5


def test_published_max_throughput_goal():
    from hardware.catalogue import Catalogue

    _, median, skipped = acc.published(Catalogue())
    assert median <= 12.0  # the goal; measured 10.4 over 22 comparable points
    assert len(skipped) == 13  # speculative decoding, disaggregation, variable-length datasets


def test_llama_8b_h200_vllm_rows_sit_below_the_prefill_floor(silicon):
    # The group the model misses most (+85 % TPOT): e.g. Llama-3.1-8B FP8, tp 1, 112 sequences of
    # 1,000 + 100 tokens, measured TPOT 11.25 ms. A closed loop of 112 sequences each emitting 100
    # tokens admits 1.12 new 1,000-token prompts a step, so a step runs 112 + 1,120 tokens through
    # 8.03 B parameters: 2 x 8.03e9 x 1,232 = 19.8 TFLOP, 10.0 ms at H200's 1,979 TFLOP/s dense FP8
    # peak, before reading 15 GB of BF16 KV (3.6 ms at 4.2 TB/s). Measured 11.25 ms is below that
    # sum: these runs cannot have prefilled every prompt (prefix caching of repeated prompts would
    # explain it), so the model, which charges every prompt, predicts about 2x. (The sum is not a hard
    # floor: FLOPs and bytes can overlap, and with the prompts the row's TTFT implies, 112 / (99 +
    # 71.91 / 11.25) = 1.06 a step, the hard interleaved floor of planner.calibration.screen is 8.5 ms,
    # which the row passes: it is kept and scored.)
    rows, pred, _, cal = silicon
    idx = [i for i, m in enumerate(rows) if (m.model_name, m.system, m.engine, m.tp, m.batch, m.isl, m.osl)
           == ("llama-3.1-8b", "hgx-h200", "vllm", 1, 112, 1000, 100)]
    assert len(idx) == 1
    floor = 2 * 8.03e9 * (112 + 112 * 1000 / 100) / 1979e12
    assert rows[idx[0]].tpot_s < floor + 3.6e-3
    assert pred.tpot_s[idx[0]] > 1.8 * rows[idx[0]].tpot_s
