"""Anchored: the shipped defaults' accuracy on calibration/ (bench/accuracy.py), as measured.

The previous issue's goals were TPOT MAPE <= 12 %, TTFT MAPE <= 30 % and a published max-throughput
median error <= 20 %. Measured with the shipped defaults (bench/accuracy.py, README "Accuracy"):
TPOT MAPE 11.1 % overall (8.3 % on the fitted families, 21.7 % on the held-out Llama family),
TTFT MAPE 26.0 % (median 15.7 %), published median 16.1 % (after the physical bounds and their refit;
before: 11.2, 8.3, 21.9, 25.9, 15.5 and 16.7 %). These tests pin the goals
themselves and today's levels (with a little headroom), so that a change that loses accuracy
fails. The data ship in the repository (calibration/, see its README), so
these tests run on a bare clone.
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
    # 6.22 ms at the 3.35 TB/s peak, planner.calibration.screen.physical_floor) are counted out; 1,158
    # scored, of which 17 saturated runs are reported apart.
    assert skipped == {"disaggregated run (prefill and decode pools measured together)": 293,
                       "layout wider than the scale-up domain": 132,
                       "recorded silicon_concurrency differs from batch_size x attention_dp_size": 23,
                       "TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1}
    assert len(rows) == 1158 and sum(acc.saturated(m) for m in rows) == 17


def test_fitted_families_tpot(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) != acc.HELD_OUT_FAMILY)
    assert tpot.n == 897
    assert tpot.mape <= 9.0 and tpot.median <= 6.2  # measured 8.3 / 5.7
    assert ttft.median <= 13.5 and ttft.mape <= 22.0  # measured 12.3 / 20.7


def test_held_out_family(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) == acc.HELD_OUT_FAMILY)
    assert tpot.n == 244
    assert tpot.median <= 12.0 and tpot.mape <= 23.5  # measured 11.0 / 21.7
    assert ttft.mape <= 48.0  # measured 45.6


def test_overall(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m))
    assert tpot.mape <= 12.0  # the previous issue's TPOT goal; measured 11.1
    assert ttft.median <= 17.0  # measured 15.7
    assert ttft.mape <= 28.0  # the previous issue's TTFT goal was 30; measured 26.0


def test_published_max_throughput_goal():
    from hardware.catalogue import Catalogue

    _, median, skipped = acc.published(Catalogue())
    assert median <= 20.0  # the previous issue's goal; measured 16.1 over 22 comparable points
    assert len(skipped) == 13  # speculative decoding, disaggregation, variable-length datasets
