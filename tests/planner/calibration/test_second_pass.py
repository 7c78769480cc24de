"""The joint fit's second pass (``planner.calibration.joint.second_pass``): which rows, what TTFT weight."""

import numpy as np
import pytest

from planner.calibration import joint
from planner.calibration.fit import Predictions
from planner.calibration.measurements import Measurement


def _row(label: str, tpot_ms: float, ttft_ms: float | None, model: str = "deepseek-v3") -> Measurement:
    return Measurement(line=2, label=label, model=model, system="hgx-b200", gpu=None, engine="sglang", tp=8,
                       pp=1, ep=1, dp=1, batch=32, quant="fp4", kv_quant=None, isl=1024, osl=1024,
                       tpot_s=tpot_ms / 1e3, ttft_s=None if ttft_ms is None else ttft_ms / 1e3, tok_per_gpu=None,
                       model_name=model)


def _predicted(tpot_ms, ttft_ms) -> Predictions:
    return Predictions(np.array(tpot_ms) / 1e3, np.array(ttft_ms) / 1e3, np.full(len(tpot_ms), np.nan))


def test_rows_the_first_pass_misses_past_the_factor_leave():
    # Measured (TPOT, TTFT) ms against the first pass's predictions:
    #   a: 10 / 500 predicted 11 / 450: kept (TPOT 1.1x)
    #   b: 20 / 400 predicted 55 / 400: TPOT 2.75x off > OUTLIER_FACTOR 2.5: left out
    #   c: 18 / 8,600 predicted 18 / 420: TTFT 20x off, TPOT right: kept, TTFT and all (TTFT is not trimmed)
    #   d: 30 / 300 predicted 12.5 / 300: TPOT 0.417x, 2.4x off, inside the factor: kept
    #   e: 15 / none predicted 15 / 600 (Qwen3): kept, nothing measured to compare its TTFT with
    rows = [_row("a", 10, 500), _row("b", 20, 400), _row("c", 18, 8600), _row("d", 30, 300),
            _row("e", 15, None, "qwen3-32b")]
    second, trimmed, _ = joint.second_pass(rows, _predicted([11, 55, 18, 12.5, 15], [450, 400, 420, 300, 600]))
    assert [m.label for m in second] == ["a", "c", "d", "e"] and second[1] is rows[2]
    assert trimmed == {"deepseek-v3 / hgx-b200 / sglang": 1}


def test_ttft_weight_is_the_median_error_ratio_of_the_kept_rows():
    # kept rows' TPOT errors |11/10 - 1|, |18.9/18 - 1|, |13.2/12 - 1|, |23/20 - 1| = 0.1, 0.05, 0.1, 0.15: median 0.1;
    # TTFT errors |450/500 - 1|, |420/8,600 - 1|, |740/300 - 1|, |1,300/1,000 - 1| = 0.1, 0.951, 1.467, 0.3: median
    # (0.3 + 0.951) / 2 = 0.6256; the left-out row g (TPOT 3x off) counts in neither
    rows = [_row("a", 10, 500), _row("c", 18, 8600), _row("d", 12, 300), _row("f", 20, 1000), _row("g", 10, 100)]
    _, trimmed, weight = joint.second_pass(rows, _predicted([11, 18.9, 13.2, 23, 30], [450, 420, 740, 1300, 100]))
    assert sum(trimmed.values()) == 1
    assert weight == pytest.approx(0.1 / ((0.3 + (1 - 420 / 8600)) / 2), rel=1e-9)
