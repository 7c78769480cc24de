"""The shipped MoE-layer curve against the measured moe_perf rows (needs the calibrate extra)."""

import pytest

pytest.importorskip("pyarrow")

from planner.calibration.kernel_fits import moe as fit  # noqa: E402


@pytest.mark.slow
def test_score_on_h200_decode_rows():
    """Power_law_1.01 rows at 1-256 tokens against the issue's 15 % goal: H200 TensorRT-LLM (bf16 and
    fp8, 1,848 rows) scored MAPE 14.3 % when fitted, H200 vLLM (all five dtypes, 8,624 rows) 13.0 %
    (bench/kernel_fits.py); TensorRT-LLM's worst row within 2x."""
    scores = {(s.table, s.system, s.engine): s for s in fit.score()}
    trt = scores[(f"moe_perf {fit.FIT_DISTRIBUTION} 1-256 tok", "h200_sxm", "trtllm")]
    assert trt.rows == 1848
    assert trt.mape_pct < 15.0
    assert trt.worst_pct < 100.0
    vllm = scores[(f"moe_perf {fit.FIT_DISTRIBUTION} 1-256 tok", "h200_sxm", "vllm")]
    assert vllm.rows == 8624
    assert vllm.mape_pct < 15.0
    # Every system and engine is scored on the decode rows.
    decode = [k for k in scores if k[0].endswith("1-256 tok") and fit.FIT_DISTRIBUTION in k[0]]
    assert len(decode) == 18
