"""The shipped MoE-layer curve against the measured moe_perf rows (needs the calibrate extra)."""

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from planner.calibration.kernel_fits import moe as fit  # noqa: E402


@pytest.mark.slow
def test_score_on_decode_rows():
    """Power_law_1.01 rows at 1-256 tokens against the issue's 15 % goal, each row on the curve of the
    kernel it ran (bench/kernel_fits.py): every one of the 18 systems/engines within 15 % (7.0-14.5 %
    when fitted); H200 TensorRT-LLM (bf16 and fp8, 1,848 rows) 7.5 %, H200 vLLM (five dtypes, 8,624
    rows) 11.5 %, the worst H200 SGLang at 14.5 %; TensorRT-LLM's worst row within 2x."""
    scores = {(s.table, s.system, s.engine): s for s in fit.score()}
    decode = f"moe_perf {fit.FIT_DISTRIBUTION} 1-256 tok"
    trt = scores[(decode, "h200_sxm", "trtllm")]
    assert trt.rows == 1848
    assert trt.mape_pct < 10.0
    assert trt.worst_pct < 100.0
    vllm = scores[(decode, "h200_sxm", "vllm")]
    assert vllm.rows == 8624
    assert vllm.mape_pct < 13.0
    groups = [s for k, s in scores.items() if k[0] == decode]
    assert len(groups) == 18
    assert all(s.mape_pct < 15.0 for s in groups), [(s.system, s.engine, s.mape_pct) for s in groups]
    # The planner's curves (each dtype's, fitted on all its kernels) on the same rows: SGLang's kernel
    # mix costs it (16.4-19.8 % when fitted), vLLM 11.9-13.8 %; TensorRT-LLM runs one kernel per dtype.
    planner = {(s.system, s.engine): s for k, s in scores.items() if k[0] == f"{decode}, planner curve"}
    assert len(planner) == 18
    assert planner[("h200_sxm", "sglang")].mape_pct > scores[(decode, "h200_sxm", "sglang")].mape_pct
    assert planner[("h200_sxm", "vllm")].mape_pct < 15.0
    assert planner[("h200_sxm", "trtllm")].mape_pct == trt.mape_pct


def test_non_gated_shapes_take_two_matrices():
    # Nemotron-3's squared-ReLU experts: TensorRT-LLM names (1024, 2688) and (8192, 5120), top-22 of 512,
    # `moe_torch_flow_nongated`; a gated shape of the same width keeps three matrices.
    rows = {"num_tokens": np.ones(3), "hidden_size": np.array([1024, 8192, 8192]),
            "inter_size": np.array([2688, 5120, 5120]), "topk": np.array([22, 22, 8]),
            "num_experts": np.array([512, 512, 512])}
    assert fit.matrices(rows).tolist() == [2.0, 2.0, 3.0]


@pytest.mark.slow
def test_by_ep_table_pins_the_routing_skew():
    """bench/kernel_fits.py --moe-by-ep (docs/accuracy.md): the planner's curve over measured, median per EP size
    and token band, whole experts. Decode-sized steps (1-256 tokens) within 10 % at every EP size (0.91-1.04 as
    shipped). From 4,097 tokens the routing skew term holds EP 2-16 within 6 % (0.94-1.03; 0.78-0.98 without
    it); over 32-256 ranks the curve still runs 13-22 % fast (0.78-0.87), the optimism docs/accuracy.md names."""
    lines = fit.by_ep_markdown().splitlines()
    eps = [int(c.split()[1]) for c in lines[0].strip("|").split("|")[1:]]
    rows = {line.split("|")[1].strip(): [float(c) for c in line.strip("|").split("|")[1:]] for line in lines[2:]}
    assert eps == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert all(0.9 <= r <= 1.1 for r in rows["1-256"])
    large = dict(zip(eps, rows["4,097-16,384"]))
    assert all(0.93 <= large[ep] <= 1.05 for ep in (1, 2, 4, 8, 16))
    assert all(0.75 <= large[ep] < 0.9 for ep in (32, 64, 128, 256))
