"""The kernel tables load with provenance columns and converted units."""

import pytest

from planner.calibration import kernels
from planner.errors import PlannerError

pytest.importorskip("pyarrow")


def test_gemm_row_converts_milliseconds_and_names_its_system():
    # calibration/kernels/README.md: bf16 GEMM m=4353 n=65536 k=51200 on H200 under TRT-LLM takes
    # 41.1 ms, i.e. 2 * 4353 * 65536 * 51200 / 41.1e-3 = 712 TFLOP/s.
    (frame,) = kernels.load("gemm_perf", system="h200_sxm", engine="trtllm")
    hit = (frame["gemm_dtype"] == "bfloat16") & (frame["m"] == 4353) & (frame["n"] == 65536) & (frame["k"] == 51200)
    assert hit.sum() == 1
    seconds = frame["latency_s"][hit][0]
    assert seconds == pytest.approx(41.1e-3, rel=0.01)
    assert 2 * 4353 * 65536 * 51200 / seconds / 1e12 == pytest.approx(712, rel=0.01)
    assert frame["system"] == "h200_sxm" and frame["engine"] == "trtllm"


def test_every_system_has_the_gemm_table_under_each_engine():
    # Six systems x three engines (calibration/kernels/README.md layout).
    assert len(kernels.paths("gemm_perf")) == 18
    assert set(kernels.SYSTEM_GPUS) == {p.parts[-5] for p in kernels.paths("gemm_perf")}


def test_an_unknown_table_is_one_line_naming_it():
    with pytest.raises(PlannerError, match="no kernel table 'gemm_perf_v9'"):
        kernels.paths("gemm_perf_v9")


def test_score_arithmetic():
    # predicted 1.1, 0.9, 2.0 s against 1, 1, 1 s: errors +10 %, -10 %, +100 %; MAPE 40 %, median 10 %.
    import numpy as np

    from planner.calibration.kernel_fits import score, table_markdown

    s = score("gemm", "gemm_perf", "h200_sxm", "vllm", np.array([1.1, 0.9, 2.0]), np.ones(3))
    assert (s.rows, round(s.mape_pct, 6), round(s.median_pct, 6), round(s.worst_pct, 6)) == (3, 40.0, 10.0, 100.0)
    assert s.optimistic_share == pytest.approx(1 / 3)
    assert "| gemm | gemm_perf | h200_sxm | vllm | 3 | 40.0 | 10.0 | 100 | 33% |" in table_markdown([s])


def test_moe_a2a_latency_is_microseconds():
    # moe_a2a_perf's latency column repeats its transmit_us column (calibration/kernels/README.md:
    # columns ending in _us are microseconds), so 59.9 there is 59.9 us, not 59.9 ms.
    (frame,) = kernels.load("moe_a2a_perf", system="b200_sxm", engine="trtllm")
    assert (frame["latency"] == frame["transmit_us"]).mean() > 0.9
    assert frame["latency_s"][0] == pytest.approx(frame["latency"][0] * 1e-6)


def test_a_table_without_a_latency_column_loads_without_latency_s():
    # The DeepEP tables time dispatch and combine in separate *_us columns.
    (frame,) = kernels.load("wideep_deepep_ll_perf", system="b200_sxm", columns=["dispatch_avg_t_us"])
    assert "latency_s" not in frame and frame["dispatch_avg_t_us"].size > 0
