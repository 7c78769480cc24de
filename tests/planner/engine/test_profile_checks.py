"""`EngineProfile` is a frozen record whose knobs declare their bounds (`specbase.checks`): one bad value per
bound, each message in full, in code, through ``dataclasses.replace`` and ``on_gpu``, and from a profile
file (``--profile FILE``: the file's path first, then the field)."""

import ast
import dataclasses
from pathlib import Path

import pytest

from planner.engine.profile import ENGINE_DIR, EngineProfile, engine, load_profile
from planner.errors import InputError
from specbase.checks import FieldError

BASE = dict(name="mine", source="my measurements")


# Each number knob's bounds as planner/engine/profile.py declares them, with a value just past each:
# (lower bound, a value below it, upper bound, a value above it); efficiency scales at most 2x (GEMM,
# attention, MoE, weight-only), 1.2x (HBM), 1.5x (comm); overheads >= 0 s; chunks of 16 to 1e8 tokens.
BOUNDS = {
    "gemm_efficiency_scale": ("> 0", 0, "<= 2", 2.5), "attention_efficiency_scale": ("> 0", 0, "<= 2", 2.01),
    "moe_efficiency_scale": ("> 0", -1, "<= 2", 3), "weight_only_efficiency_scale": ("> 0", 0, "<= 2", 2.5),
    "hbm_efficiency_scale": ("> 0", 0, "<= 1.2", 1.25), "comm_efficiency_scale": ("> 0", 0, "<= 1.5", 1.6),
    "comm_latency_scale": ("> 0", 0, "<= 10", 11), "step_overhead_s": (">= 0", -1e-6, None, None),
    "sequence_overhead_s": (">= 0", -1e-6, None, None), "per_kernel_overhead_s": (">= 0", -1e-6, None, None),
    "per_layer_overhead_s": (">= 0", -1e-6, None, None), "ttft_overhead_s": (">= 0", -0.5, None, None),
    "hbm_usable_fraction": ("> 0", 0, "<= 1", 1.1), "kv_memory_fraction": ("> 0", 0, "<= 1", 1.5),
    "kv_reserved_output_fraction": (">= 0", -0.1, "<= 1", 1.1), "overlap_fraction": (">= 0", -0.1, "<= 1", 1.1),
    "prompt_queue_scale": (">= 0", -0.1, "<= 64", 65),
    "prefill_wait_fraction": (">= 0", -0.1, "<= 1", 1.5), "prompts_ahead": (">= 0", -1, "<= 2", 2.5),
    "arrival_wait_steps": (">= 0", -1, "<= 4", 5),
}
NUMBER_CASES = [(field, value, f"must be {bound} (got {float(value)!r})")
                for field, (low, below, high, above) in BOUNDS.items()
                for bound, value in ((low, below), (high, above)) if bound is not None]


GPU_NAMES = 'must be a non-empty list of GPU names, e.g. ["h100-sxm", "b200"] '


@pytest.mark.parametrize("field, value, message", NUMBER_CASES + [
    # counts: 16 tokens up to 1e8 per chunk, 1 up to 1e6 sequences
    ("prefill_chunk_tokens", 8, "must be >= 16 (got 8)"),
    ("prefill_chunk_tokens", 100_000_001, "must be <= 1e+08 (got 100000001)"),
    ("prefill_chunk_tokens", 1024.5, "must be an integer (got 1024.5)"),
    ("max_batch", 0, "must be >= 1 (got 0)"),
    ("max_batch", 1_000_001, "must be <= 1e+06 (got 1000001)"),
    # a scheduler holds 1 iteration (scheduled as the previous returns) up to 4 in hand
    ("prefill_chunk_tokens_by_hbm", 160, "must be a pair [hbm_gib, tokens] (got 160)"),
    ("scheduler_depth_steps", 0, "must be >= 1 (got 0)"),
    ("scheduler_depth_steps", 5, "must be <= 4 (got 5)"),
    ("scheduler_depth_steps", 1.5, "must be an integer (got 1.5)"),
    # not a number, not finite
    ("gemm_efficiency_scale", "x", "must be a number (got 'x')"),
    ("gemm_efficiency_scale", float("inf"), "must be a finite number (got inf)"),
    ("step_overhead_s", float("nan"), "must be a finite number (got nan)"),
    # kinds, flags, text, pairs
    ("lm_head_quant", "fp16", "must be one of 'bf16', 'fp8', 'int8', 'int4', 'fp4' (got 'fp16')"),
    ("default_kv_quant", "int8", "must be one of 'bf16', 'fp8', 'weights' (got 'int8')"),
    ("scheduler_overlap", "yes", "must be true or false (got 'yes')"),
    ("gemm_curve", 1, "must be true or false (got 1)"),
    ("description", 3, "must be a string (got 3)"),
    ("measured_batch", [4], "must be a pair [smallest, largest] (got [4])"),
    ("measured_context_tokens", "1100-10000", "must be a pair [smallest, largest] (got '1100-10000')"),
    ("measured_gpus", "h100-sxm", GPU_NAMES + "(got 'h100-sxm')"),
    ("measured_gpus", [], GPU_NAMES + "(got [])"),
    ("measured_gpus", ["b200", ""], GPU_NAMES + "(got ['b200', ''])"),
    ("sources", ["a"], "must be a table of names to values (got ['a'])"),
])
def test_a_knob_outside_its_bound_names_the_field(field, value, message):
    with pytest.raises(FieldError) as caught:
        EngineProfile(**BASE, **{field: value})
    assert str(caught.value) == f"field '{field}' {message}"


def test_values_kept_as_the_file_gives_them():
    prof = EngineProfile(**BASE, step_overhead_s=0, prefill_chunk_tokens=4096.0, measured_batch=[4, 512.0])
    assert type(prof.step_overhead_s) is float and type(prof.prefill_chunk_tokens) is int
    assert prof.measured_batch == (4, 512) and type(prof.measured_batch[1]) is int
    # the defaults: the neutral engine, 90 % of HBM usable, half overlap, 8192-token chunks
    assert (prof.gemm_efficiency_scale, prof.hbm_usable_fraction, prof.overlap_fraction) == (1.0, 0.9, 0.5)
    assert (prof.prefill_chunk_tokens, prof.default_kv_quant, prof.gpus, prof.sources) == (4096, "bf16", {}, {})


def test_the_chunk_by_memory_is_checked_as_the_chunk_and_applies_from_its_memory():
    with pytest.raises(FieldError) as caught:
        EngineProfile(**BASE, prefill_chunk_tokens_by_hbm=[160, 8])
    assert str(caught.value) == "field 'prefill_chunk_tokens_by_hbm.1' must be >= 16 (got 8)"  # as the chunk itself
    prof = EngineProfile(**BASE, prefill_chunk_tokens=8192, prefill_chunk_tokens_by_hbm=[160, 16384])
    assert prof.prefill_chunk_tokens_by_hbm == (160, 16384)
    # from 160 GiB = 160 x 2^30 bytes of HBM up: the larger budget; below it, or with no memory given, the file's
    assert prof.on_gpu("x", 160 * 2**30).prefill_chunk_tokens == 16384
    assert prof.on_gpu("x", 160 * 2**30 - 1).prefill_chunk_tokens == 8192
    assert prof.on_gpu("x") is prof


def test_per_gpu_values_are_checked_as_the_top_level_ones():
    with pytest.raises(FieldError) as caught:
        EngineProfile(**BASE, gpus={"h200-sxm": {"overlap_fraction": 1.5}})
    assert str(caught.value) == "field 'gpus.h200-sxm.overlap_fraction' must be <= 1 (got 1.5)"
    with pytest.raises(FieldError) as caught:
        EngineProfile(**BASE, gpus={"h200-sxm": 3})
    assert str(caught.value) == "field 'gpus.h200-sxm' must be a table of knobs to values (got 3)"
    table = {"h200-sxm": {"step_overhead_s": 1}}
    prof = EngineProfile(**BASE, gpus=table)
    assert type(prof.gpus["h200-sxm"]["step_overhead_s"]) is float  # 1 s kept as 1.0, as the knob is
    assert type(table["h200-sxm"]["step_overhead_s"]) is int  # the caller's table as it was given
    with pytest.raises(FieldError) as caught:
        EngineProfile(**BASE, gpus={"h200-sxm": {"hbm_usable_fraction": 0.8}})
    assert str(caught.value).startswith("field 'gpus.h200-sxm.hbm_usable_fraction' cannot be set per GPU "
                                        "(allowed: gemm_efficiency_scale, ")


def test_replace_and_on_gpu_check_again_and_equal_profiles_hash_alike():
    sglang = engine("sglang")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sglang.step_overhead_s = 0.0  # type: ignore[misc]
    with pytest.raises(FieldError, match=r"^field 'overlap_fraction' must be <= 1 \(got 2.0\)$"):
        dataclasses.replace(sglang, overlap_fraction=2)
    # planner/engine/data/sglang.toml: step_overhead_us = 253.9 engine-wide, [gpus.h200-sxm] step_overhead_us = 256.3
    # and arrival_wait_steps = 3.534 (engine-wide 3.459); [gpus.h200-sxm] sets no sequence overhead: the engine-wide one
    h200 = sglang.on_gpu("h200-sxm")
    assert h200.step_overhead_s == pytest.approx(256.3e-6) and h200.gpus == sglang.gpus
    assert h200.arrival_wait_steps == pytest.approx(3.534) != sglang.arrival_wait_steps
    assert h200.sequence_overhead_s == sglang.sequence_overhead_s
    assert sglang.on_gpu("h200-sxm") is h200 and sglang.on_gpu("no-such-gpu") is sglang
    again = load_profile(ENGINE_DIR / "sglang.toml")  # the same file read again: an equal record
    assert again == sglang and hash(again) == hash(sglang) and again is not sglang
    assert dataclasses.replace(sglang, step_overhead_s=1e-3) != sglang


@pytest.mark.parametrize("text, message", [
    ("gemm_efficiency_scale = 3\n", "field 'gemm_efficiency_scale' must be <= 2 (got 3.0)"),
    ("step_overhead_us = -1\n", "field 'step_overhead_us' must be >= 0 microseconds (got -1)"),  # as the file wrote
    ("step_overhead_us = \"x\"\n", "field 'step_overhead_us': must be a number of microseconds, got 'x'"),
    ("[gpus.h200-sxm]\nttft_overhead_us = -1\n",
     "field 'gpus.h200-sxm.ttft_overhead_us' must be >= 0 microseconds (got -1)"),
    ("[gpus.h200-sxm]\neager_kernel_overhead_us = -2.5\n",
     "field 'gpus.h200-sxm.eager_kernel_overhead_us' must be >= 0 microseconds (got -2.5)"),
    ("eager_kernel_overhed_us = 3\n", "field 'eager_kernel_overhed_us' is not a profile key; "
                                      "did you mean 'eager_kernel_overhead_us'?"),  # the key files write
    ("speed = 2\n", "field 'speed' is not a profile key; remove it"),
    ("overlap_fractoin = 0.5\n", "field 'overlap_fractoin' is not a profile key; did you mean 'overlap_fraction'?"),
])
def test_a_bad_profile_file_gives_one_line(tmp_path, text, message):
    path = tmp_path / "p.toml"
    path.write_text('name = "mine"\nsource = "my measurements"\n' + text)
    with pytest.raises(InputError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: {message}"


def test_a_profile_file_without_its_name_says_so(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('source = "my measurements"\n')
    with pytest.raises(InputError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: field 'name' is required; give a string"


def test_the_profile_workload_and_model_loader_import_no_pydantic():
    # the specs a default plan builds are records: pydantic stays with the file schemas users write
    root = Path(__file__).resolve().parents[3]
    for module in ("planner/engine/profile.py", "planner/serving/workload.py", "planner/model_file.py",
                   "models/spec.py", "models/hf.py", "models/catalogue.py"):
        for node in ast.walk(ast.parse((root / module).read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "pydantic" for n in names), module
