"""Anchored: the shipped defaults' accuracy on calibration/ (bench/accuracy.py), as measured.

The issue's goals are TPOT MAPE <= 12 %, TTFT MAPE <= 30 % and a published max-throughput
median error <= 20 %. Measured with the shipped defaults (bench/accuracy.py, README "Accuracy"):
TPOT MAPE 11.96 % overall (9.3 % on the fitted families, 22.0 % on the held-out Llama family),
TTFT MAPE 26.3 % (median 16.0 %), published median 17.4 %. The TPOT goal is met, narrowly;
these tests pin the goals themselves and today's levels elsewhere (with a little headroom), so
that a change that loses accuracy fails. The data ship in the repository (calibration/, see its README), so
these tests run on a bare clone.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "accuracy.py"


def _bench():
    spec = importlib.util.spec_from_file_location("rackplan_bench_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


acc = _bench()


@pytest.fixture(scope="module")
def silicon():
    from hardware.catalogue import Catalogue
    from planner import calibrate as cal
    from planner.profile import engine

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
    # 1,607 rows: 293 disaggregated, 132 wider than one server, 4 repeat runs of two Qwen3-32B /
    # GB200 configurations that contradict each other (batch 1 at 2000/500: TPOT 8.1 and 41.9 ms;
    # at 4000/1000: 8.2 and 21.2 ms; planner.measurements.reproducible) and 1 faster than physics
    # allows (gpt-oss-120b, H100 x 4, vLLM, concurrency 512 at 8192/1024: TPOT 5.46 ms, but
    # reading its weight share and the KV cache of 512 sequences of 8,192 tokens takes 6.22 ms at
    # the 3.35 TB/s peak, planner.measurements.physical_floor) are counted out; 1,177 scored, of
    # which 17 saturated runs are reported apart.
    assert skipped == {"disaggregated run (prefill and decode pools measured together)": 293,
                       "layout wider than the scale-up domain": 132,
                       "configuration measured more than once, TPOTs more than 2x apart": 4,
                       "TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1}
    assert len(rows) == 1177 and sum(acc.saturated(m) for m in rows) == 17


def test_fitted_families_tpot(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) != acc.HELD_OUT_FAMILY)
    assert tpot.n == 916
    assert tpot.mape <= 10.0 and tpot.median <= 6.5  # measured 9.3 / 5.8
    assert ttft.median <= 14.0 and ttft.mape <= 23.0  # measured 13.0 / 21.2


def test_held_out_family(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) == acc.HELD_OUT_FAMILY)
    assert tpot.n == 244
    assert tpot.median <= 12.0 and tpot.mape <= 23.5  # measured 11.0 / 22.0
    assert ttft.mape <= 48.0  # measured 45.4


def test_overall(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m))
    assert tpot.mape <= 12.0  # the TPOT goal; measured 11.96
    assert ttft.median <= 17.5  # measured 16.0
    assert ttft.mape <= 28.0  # the TTFT goal is 30; measured 26.3


def test_published_max_throughput_goal():
    from hardware.catalogue import Catalogue

    _, median, skipped = acc.published(Catalogue())
    assert median <= 20.0  # the goal; measured 17.4 over 22 comparable points
    assert len(skipped) == 13  # speculative decoding, disaggregation, variable-length datasets
