"""Shipped engine profiles: every one loads, is sourced, and every serving command takes --engine."""

import dataclasses
import tomllib

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.engine.profile import ENGINE_DIR, EngineProfile, engine, engine_names

RUN = CliRunner()
# What the end-to-end fit sets (planner.calibration.fit.KNOBS): engine behaviour no kernel table
# measures. Efficiencies come from the kernel curves (planner/engine/data/kernels), so the engine
# files carry no efficiency scale (they default to 1 and shape only the seed preset).
FITTED_KNOBS = ("step_overhead_us", "per_kernel_overhead_us", "sequence_overhead_us", "overlap_fraction",
                "prompt_queue_scale", "prefill_wait_fraction", "ttft_overhead_us")
EFFICIENCY_SCALES = ("gemm_efficiency_scale", "attention_efficiency_scale", "moe_efficiency_scale",
                     "weight_only_efficiency_scale", "hbm_efficiency_scale", "comm_efficiency_scale",
                     "comm_latency_scale")


def test_shipped_engines():
    assert set(engine_names()) >= {"default", "trtllm", "vllm", "sglang"}


@pytest.mark.parametrize("name", engine_names())
def test_profile_loads_and_every_value_is_sourced(name):
    prof = engine(name)
    assert isinstance(prof, EngineProfile) and prof.name == name and prof.source
    raw = tomllib.loads((ENGINE_DIR / f"{name}.toml").read_text())
    values = {k for k in raw if k not in ("name", "description", "source", "sources")}
    # Every value in the file says where it comes from: a source or "fitted by bench/accuracy.py".
    assert values <= set(raw["sources"]), sorted(values - set(raw["sources"]))
    # Ranges a serving engine can have: overheads below 10 ms a step, 0.2 ms a layer and 20 us a
    # kernel (aiconfigurator's constant is 3 us), TTFT overhead below 1 s, the chunk budget a power
    # of two between 512 and 65,536 tokens.
    assert 0 <= prof.step_overhead_s < 10e-3 and 0 <= prof.per_layer_overhead_s < 0.2e-3
    assert 0 <= prof.per_kernel_overhead_s < 20e-6
    # Outside CUDA graphs a kernel's host launch (PyTorch dispatch and the launch itself) costs ~5-50 us: below
    # the fit's 100 us bound (planner.calibration.fit.KNOBS), on every GPU's table too.
    assert all(0 <= prof.on_gpu(g).eager_kernel_overhead_s < 100e-6 for g in (None, *prof.gpus))
    assert 0 <= prof.ttft_overhead_s < 1.0 and 0 <= prof.prompt_queue_scale <= 4.0  # (fit.KNOBS bound)
    assert prof.prefill_chunk_tokens in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
    assert 0.5 <= prof.hbm_usable_fraction <= 1.0


@pytest.mark.parametrize("name", ("trtllm", "vllm", "sglang"))
def test_engine_knobs_are_fitted_on_the_calibration_data(name):
    raw = tomllib.loads((ENGINE_DIR / f"{name}.toml").read_text())
    for knob in FITTED_KNOBS:
        assert "fitted by bench/accuracy.py" in raw["sources"][knob], knob
        assert "every model family" in raw["sources"][knob]
    assert not set(EFFICIENCY_SCALES) & set(raw)
    assert raw["lm_head_quant"] == "bf16"  # every engine keeps the LM head unquantised


def test_default_engine_stays_neutral():
    # Unit multipliers: the GPU catalogue's efficiencies unchanged, whatever engine measured them.
    d = engine("default")
    for knob in ("gemm_efficiency_scale", "attention_efficiency_scale", "moe_efficiency_scale",
                 "weight_only_efficiency_scale", "hbm_efficiency_scale", "comm_efficiency_scale"):
        assert getattr(d, knob) == 1.0
    assert d.lm_head_quant is None and d.default_kv_quant == "bf16"


@pytest.mark.parametrize("name", ("default", "trtllm", "vllm", "sglang"))
def test_evaluate_accepts_engine(name):
    args = ["evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--batch", "8", "--isl", "1024",
            "--osl", "256", "--engine", name, "--format", "json"]
    result = RUN.invoke(cli, args, obj={})
    assert result.exit_code == 0, result.output
    assert '"ttft_s"' in result.output


def test_serving_commands_accept_engine_and_profile():
    # Every command that scores plans declares --engine and --profile. Catalogue listings score
    # nothing; calibrate's --engine names its starting profile; sweep reads engine and profile
    # from its grid file (planner.studies.sweep: ``engine`` / ``profile`` keys); train scores
    # training jobs, which no serving engine runs.
    scoring = [name for name in cli.commands
               if name not in ("gpus", "systems", "fabrics", "models", "show", "calibrate", "sweep", "train")]
    wanted = {"engine_name", "profile_path"}
    missing = [name for name in scoring if not wanted <= {p.name for p in cli.commands[name].params}]
    assert missing == [], f"commands without --engine/--profile: {missing}"


@pytest.mark.parametrize("name", engine_names())
def test_per_gpu_tables_name_catalogue_gpus_and_stay_in_range(name):
    from hardware.catalogue import Catalogue

    prof, gpus = engine(name), set(Catalogue().gpu_names())
    raw = tomllib.loads((ENGINE_DIR / f"{name}.toml").read_text())
    if prof.gpus:
        assert "fitted by bench/accuracy.py" in raw["sources"]["gpus"]
    for gpu in prof.gpus:
        assert gpu in gpus, gpu
        on = prof.on_gpu(gpu)
        # The same ranges as the top level (test above).
        assert 0 <= on.step_overhead_s < 10e-3 and 0 <= on.per_kernel_overhead_s < 20e-6
        assert 0 < on.hbm_efficiency_scale <= 1.2


def test_per_gpu_values_apply_on_that_gpu_only():
    from hardware.catalogue import Catalogue
    from models.catalogue import model
    from planner.serving.evaluate import evaluate_plan
    from planner.serving.plan import Plan
    from planner.serving.scenario import Scenario
    from planner.serving.workload import Workload

    cat, llama = Catalogue(), model("llama-3.1-8b")
    base = EngineProfile(name="t", source="test", step_overhead_s=100e-6)
    over = dataclasses.replace(base, gpus={"h200-sxm": {"step_overhead_s": 600e-6}})
    w, plan = Workload(tokens_cached=1024), Plan(tp=1, batch=16)

    def step(profile, system):
        return evaluate_plan(Scenario(hardware=cat.hardware(system), model=llama, workload=w, profile=profile),
                             plan).step_time_s[0]

    # Decode step = stage + step overhead: the H200 table adds 600 - 100 = 500 us there, nothing on H100.
    assert step(over, "hgx-h200") - step(base, "hgx-h200") == pytest.approx(500e-6, rel=1e-9)
    assert step(over, "hgx-h100") == step(base, "hgx-h100")


def test_per_gpu_table_read_from_file_in_microseconds(tmp_path):
    from planner.engine.profile import load_profile

    path = tmp_path / "p.toml"
    path.write_text('name = "mine"\nsource = "test"\nstep_overhead_us = 100\n\n[gpus.b200]\nstep_overhead_us = 40\n'
                    'hbm_efficiency_scale = 1.05\n')
    prof = load_profile(path)
    assert prof.step_overhead_s == pytest.approx(100e-6) and prof.on_gpu("b200").step_overhead_s == pytest.approx(40e-6)
    assert prof.on_gpu("b200").hbm_efficiency_scale == 1.05 and prof.on_gpu("h100-sxm") is prof


def test_per_gpu_table_rejects_memory_knobs(tmp_path):
    from planner.engine.profile import load_profile
    from planner.errors import InputError

    path = tmp_path / "p.toml"
    path.write_text('name = "mine"\nsource = "test"\n\n[gpus.b200]\nhbm_usable_fraction = 0.5\n')
    with pytest.raises(InputError, match="gpus.*hbm_usable_fraction.*cannot be set per GPU"):
        load_profile(path)
