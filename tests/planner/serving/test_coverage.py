"""Honest range: a plan outside the batch or context its engine was measured at is flagged.

The shipped ranges are those of the unsaturated aggregated rows of calibration/silicon_calibration.csv
per engine: vLLM 4-144 sequences per instance and 1,100-10,000 tokens of isl + osl, TensorRT-LLM
1-384 and 1,152-9,216, SGLang 4-512 and 1,100-10,000.
"""

import planner
from planner.calibration.profile_file import profile_toml
from planner.engine.profile import engine, load_profile
from planner.serving.coverage import outside_measured_range
from planner.serving.plan import Plan
from planner.serving.workload import Workload


def test_shipped_ranges():
    assert engine("vllm").measured_batch == (4, 144) and engine("vllm").measured_context_tokens == (1100, 10000)
    assert engine("trtllm").measured_batch == (1, 384) and engine("sglang").measured_batch == (4, 512)
    assert engine("default").measured_batch is None  # neutral engine: nothing measured, nothing flagged


def test_flags_name_the_numbers():
    vllm = engine("vllm")
    inside = Workload(isl=1024, osl=1024)  # 2,048 tokens, within 1,100-10,000
    assert outside_measured_range(vllm, inside, Plan(batch=144)) == []
    assert outside_measured_range(vllm, inside, Plan(batch=145)) == [
        "batch 145 outside the 4-144 sequences per instance vllm was measured at"]
    # 1,024 + 1 = 1,025 tokens: below the shortest measured 1,100; batch 3 below 4
    flags = outside_measured_range(vllm, Workload(isl=1024, osl=1), Plan(batch=3))
    assert flags == ["batch 3 outside the 4-144 sequences per instance vllm was measured at",
                     "context 1,025 tokens outside the 1,100-10,000 (isl + osl) vllm was measured at"]
    assert outside_measured_range(engine("default"), inside, Plan(batch=4096)) == []


def test_evaluate_reports_it():
    doc = planner.evaluate(model="llama-3.1-8b", system="hgx-h200", engine_name="trtllm", isl=8192, osl=1024,
                           batch=1024)
    assert doc["outside_measured_range"] == [
        "batch 1,024 outside the 1-384 sequences per instance trtllm was measured at"]


def test_range_round_trips_through_a_profile_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(profile_toml(engine("sglang")))
    back = load_profile(path)
    assert back.measured_batch == (4, 512) and back.measured_context_tokens == (1100, 10000)
