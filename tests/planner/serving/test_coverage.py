"""Honest range: a plan outside the batch, context, tokens per step or streamed rate its engine was measured at is
flagged.

The shipped ranges are those of the unsaturated aggregated rows of calibration/silicon_calibration.csv
per engine: vLLM 4-128 sequences per instance and 1,152-9,216 tokens of isl + osl, TensorRT-LLM
1-384 and 1,152-9,216, SGLang 4-512 and 1,100-10,000; tokens per step (concurrency plus the prompt tokens
Little's law gives from each run's TTFT and TPOT) vLLM 4-3,986, TensorRT-LLM 4-4,010, SGLang 4-4,535; output
tokens a second one instance streamed (concurrency / TPOT) vLLM 303-14,391, TensorRT-LLM 122-32,774, SGLang
202-22,466.
"""

import math
from pathlib import Path

import pytest

import planner
from hardware.catalogue import Catalogue
from planner.calibration import measurements, screen
from planner.calibration.profile_file import profile_toml
from planner.engine.profile import engine, load_profile
from planner.serving.coverage import outside_measured_range, tokens_per_step
from planner.serving.plan import Plan
from planner.serving.workload import Workload


def test_shipped_ranges():
    assert engine("vllm").measured_batch == (4, 128) and engine("vllm").measured_context_tokens == (1152, 9216)
    assert engine("trtllm").measured_batch == (1, 384) and engine("sglang").measured_batch == (4, 512)
    assert engine("default").measured_batch is None  # neutral engine: nothing measured, nothing flagged
    steps = {name: engine(name).measured_tokens_per_step for name in ("vllm", "trtllm", "sglang", "default")}
    assert steps == {"vllm": (4, 3986), "trtllm": (4, 4010), "sglang": (4, 4535), "default": None}


def test_tokens_per_step_by_hand():
    # 64 requests of 2,048 in / 128 out at TTFT 817.8 ms, TPOT 98.45 ms (a Qwen3-32B / H100 / TensorRT-LLM run):
    # 64 decode tokens + 64 x 2,048 / (127 + 817.8 / 98.45) = 64 + 968.7 prompt tokens a step
    assert tokens_per_step(Workload(isl=2048, osl=128), 64, 0.8178, 0.09845) == pytest.approx(1032.7, abs=0.05)
    assert tokens_per_step(Workload(tokens_cached=4096), 64, None, None) == 64.0  # steady decode: the batch
    assert tokens_per_step(Workload(isl=2048, osl=128), 64, None, 0.1) is None  # no TTFT: not placed
    # 4,000 tokens a step is inside TensorRT-LLM's 4-4,010; 4,011 is not
    trtllm, w = engine("trtllm"), Workload(isl=2048, osl=128)
    ttft_inside = (64 * 2048 / (4000 - 64) - 127) * 0.1  # TTFT that puts 3,936 prompt tokens in each 0.1 s step
    assert outside_measured_range(trtllm, w, Plan(batch=64), ttft_inside, 0.1) == []
    ttft_outside = (64 * 2048 / (4012.2 - 64) - 127) * 0.1  # 4,012.2 tokens a step
    assert outside_measured_range(trtllm, w, Plan(batch=64), ttft_outside, 0.1) == [
        "4,012 tokens per step outside the 4-4,010 trtllm was measured at"]


def test_flags_name_the_numbers():
    vllm = engine("vllm")
    inside = Workload(isl=1024, osl=1024)  # 2,048 tokens, within 1,152-9,216
    assert outside_measured_range(vllm, inside, Plan(batch=128)) == []
    assert outside_measured_range(vllm, inside, Plan(batch=129)) == [
        "batch 129 outside the 4-128 sequences per instance vllm was measured at"]
    # 1,024 + 1 = 1,025 tokens: below the shortest measured 1,152; batch 3 below 4
    flags = outside_measured_range(vllm, Workload(isl=1024, osl=1), Plan(batch=3))
    assert flags == ["batch 3 outside the 4-128 sequences per instance vllm was measured at",
                     "context 1,025 tokens outside the 1,152-9,216 (isl + osl) vllm was measured at"]
    assert outside_measured_range(engine("default"), inside, Plan(batch=4096)) is None  # no range: nothing to say


def test_evaluate_reports_it():
    doc = planner.evaluate(model="llama-3.1-8b", system="hgx-h200", engine_name="trtllm", isl=8192, osl=1024,
                           batch=1024)
    assert doc["outside_measured_range"] == [
        "batch 1,024 outside the 1-384 sequences per instance trtllm was measured at"]
    # 256 sequences of 2,048 in / 128 out: inside the batch range, but their prompts put more tokens in a step
    # than any measured run: 256 + 256 x 2,048 / (127 + TTFT / TPOT), from the evaluator's own figures
    doc = planner.evaluate(model="llama-3.1-8b", system="hgx-h200", engine_name="trtllm", isl=2048, osl=128,
                           batch=256)
    tokens = 256 + 256 * 2048 / (127 + doc["ttft_s"] / doc["tpot_s"])
    assert tokens > 4010 and doc["outside_measured_range"] == [
        f"{tokens:,.0f} tokens per step outside the 4-4,010 trtllm was measured at"]


def test_range_round_trips_through_a_profile_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(profile_toml(engine("sglang")))
    back = load_profile(path)
    assert back.measured_batch == (4, 512) and back.measured_context_tokens == (1100, 10000)
    assert back.measured_tokens_per_step == (4, 4535)


def test_shipped_ranges_are_the_calibration_rows():
    # Every shipped range recomputed from calibration/silicon_calibration.csv: the unsaturated aggregated rows
    # the accuracy bench scores (planner.calibration.screen.resolve), per engine; tokens per step over the rows
    # with a measured TTFT, floored and ceiled to whole tokens.
    path = Path(__file__).resolve().parents[3] / "calibration" / "silicon_calibration.csv"
    rows, _ = screen.resolve(measurements.read(path), Catalogue())
    for name in ("trtllm", "vllm", "sglang"):
        mine = [m for m in rows.rows if m.engine == name and not screen.saturated(m)]
        timed = [m for m in mine if m.ttft_s is not None and m.tpot_s is not None]
        tokens = [tokens_per_step(Workload(isl=m.isl, osl=m.osl), m.batch, m.ttft_s, m.tpot_s) for m in timed]
        prof = engine(name)
        assert prof.measured_batch == (min(m.batch for m in mine), max(m.batch for m in mine))
        assert prof.measured_context_tokens == (min(m.isl + m.osl for m in mine), max(m.isl + m.osl for m in mine))
        assert prof.measured_tokens_per_step == (math.floor(min(tokens)), math.ceil(max(tokens)))
        streamed = [m.batch / m.tpot_s for m in mine if m.tpot_s is not None]
        assert prof.measured_streamed_tokens_per_s == (math.floor(min(streamed)), math.ceil(max(streamed)))
        assert prof.measured_gpus == tuple(sorted({Catalogue().hardware(m.system).gpu.name for m in mine}))


def test_a_gpu_no_run_measured_is_flagged():
    # trtllm.toml: measured on B200, GB200, H100 and H200 (its 610 rows); vLLM on B200, H100 and H200.
    assert engine("trtllm").measured_gpus == ("b200", "gb200", "h100-sxm", "h200-sxm")
    vllm, w = engine("vllm"), Workload(isl=1024, osl=1024)
    assert outside_measured_range(vllm, w, Plan(batch=64), gpu="h200-sxm") == []
    assert outside_measured_range(vllm, w, Plan(batch=64), gpu="mi355x") == [
        "GPU mi355x: vllm was measured on b200, h100-sxm, h200-sxm only"]
    assert outside_measured_range(vllm, w, Plan(batch=64)) == []  # no GPU given: not checked
    assert outside_measured_range(engine("default"), w, Plan(batch=64), gpu="mi355x") is None  # nothing recorded
    doc = planner.evaluate(model="llama-3.1-8b", system="mi355x-8", engine_name="vllm", isl=1024, osl=1024, batch=64)
    assert doc["outside_measured_range"] == ["GPU mi355x: vllm was measured on b200, h100-sxm, h200-sxm only"]


def test_streamed_rate_outside_the_measured_one_is_flagged():
    # trtllm.toml: measured_streamed_tokens_per_s [122, 32774] (concurrency / TPOT of its 610 unsaturated rows).
    # 256 sequences at a predicted 7.5 ms TPOT stream 256 / 0.0075 = 34,133 output tokens/s: above; at 8 ms,
    # 32,000: inside; without a predicted TPOT nothing is said about the rate.
    trtllm = engine("trtllm")
    assert trtllm.measured_streamed_tokens_per_s == (122, 32774)
    w = Workload(tokens_cached=2048)
    assert outside_measured_range(trtllm, w, Plan(batch=256), None, 0.0075) == [
        "34,133 output tokens/s per instance outside the 122-32,774 trtllm was measured streaming"]
    assert outside_measured_range(trtllm, w, Plan(batch=256), None, 0.008) == []
    assert outside_measured_range(trtllm, w, Plan(batch=256)) == []

