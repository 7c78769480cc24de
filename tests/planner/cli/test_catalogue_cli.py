"""Catalogue commands: listings in every format, show pages, the --catalogue recipe, bad input."""

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.calibration.profile_file import profile_toml
from planner.cli.main import cli, main
from planner.engine.profile import engine

RUN = CliRunner()

# The README recipe's GPU file (also used by tests/hardware/test_hw_user_catalogue.py).
MY_GPU = (Path(__file__).resolve().parents[2] / "fixtures" / "catalogue" / "gpus" / "my-gpu.toml").read_text()


@pytest.mark.parametrize("command", ["gpus", "systems", "models", "fabrics"])
def test_listings_in_every_format(command):
    out = {fmt: RUN.invoke(cli, [command, "--format", fmt]) for fmt in ("table", "markdown", "csv", "json")}
    assert all(r.exit_code == 0 for r in out.values())
    rows = json.loads(out["json"].output)
    csv_rows = list(csv.DictReader(io.StringIO(out["csv"].output)))
    assert len(rows) == len(csv_rows) >= 7  # 10 GPUs, 10 systems, 13 models, 8 fabrics
    assert out["markdown"].output.startswith("|")


def test_listing_counts_and_values():
    gpus = {r["name"]: r for r in json.loads(RUN.invoke(cli, ["gpus", "--format", "json"]).output)}
    assert set(gpus) == {"h100-sxm", "h800", "h200-sxm", "b200", "b300", "gb200", "gb300", "mi300x", "mi325x", "mi355x"}
    assert gpus["h200-sxm"]["hbm_tb_per_s"] == pytest.approx(4.8)  # docs/sources.md [N1,N2]
    assert gpus["h100-sxm"]["fp4_tflops"] is None  # Hopper has no FP4 mode: marked, not faked
    models = {r["name"]: r for r in json.loads(RUN.invoke(cli, ["models", "--format", "json"]).output)}
    assert len(models) == 13
    assert models["llama-3.1-70b"]["kv_bytes_per_token_bf16"] == 327_680  # 80 x 2 x 8 x 128 x 2


def test_show_pages_carry_sources():
    gpu = json.loads(RUN.invoke(cli, ["show", "gpu", "h200-sxm", "--format", "json"]).output)
    assert gpu["hbm_bytes"] == pytest.approx(141e9)
    assert "h200_microbench" in gpu["source.hbm_efficiency_fraction"]
    # Ridge point: 989 TFLOP/s bf16 / 4.8 TB/s = 206.04 FLOP per byte; HBM per kW: 141 GB / 0.7 kW.
    assert gpu["derived.ridge_point_flop_per_byte_bf16"] == pytest.approx(989 / 4.8)
    assert gpu["derived.hbm_gb_per_kw"] == pytest.approx(141 / 0.7)
    system = json.loads(RUN.invoke(cli, ["show", "system", "gb200-nvl72", "--format", "json"]).output)
    assert system["derived.gpus_per_rack"] == 72 and system["scale_up_domain_gpus"] == 72
    model = json.loads(RUN.invoke(cli, ["show", "model", "Qwen/Qwen3-235B-A22B", "--format", "json"]).output)
    assert model["moe.num_experts"] == 128 and model["derived.total_b"] == pytest.approx(235.1, abs=0.1)


def test_show_gpu_marks_each_kernel_curve_measured_or_transferred():
    h200 = json.loads(RUN.invoke(cli, ["show", "gpu", "h200-sxm", "--format", "json"]).output)
    assert h200["kernels.gemm"].startswith("measured") and h200["sm_count"] == 132
    mi300x = json.loads(RUN.invoke(cli, ["show", "gpu", "mi300x", "--format", "json"]).output)
    assert mi300x["kernels.gemm"].startswith("transferred") and mi300x["sm_count"] == 304
    # Transferred onto its own datasheet: never above the MI300X's 1,307.4 TFLOP/s bf16 peak, nor above its
    # achievable 5.3 TB/s x its HBM efficiency.
    assert 0 < mi300x["kernels.gemm.bf16_tflops"] <= 1307.4
    assert 0 < mi300x["kernels.gemm.hbm_tb_per_s"] <= mi300x["derived.achievable_hbm_tb_per_s"]


def test_catalogue_dir_option_and_env_var(tmp_path):
    (tmp_path / "gpus").mkdir()
    (tmp_path / "gpus" / "my-gpu.toml").write_text(MY_GPU)
    by_option = RUN.invoke(cli, ["--catalogue", str(tmp_path), "show", "gpu", "my-gpu", "--format", "json"])
    assert by_option.exit_code == 0, by_option.output
    assert json.loads(by_option.output)["hbm_bytes"] == pytest.approx(96e9)
    assert json.loads(by_option.output)["kernels.gemm"].startswith("transferred")  # a user GPU: no kernel rows
    by_env = RUN.invoke(cli, ["gpus", "--format", "json"], env={"RACKPLAN_CATALOGUE": str(tmp_path)})
    assert "my-gpu" in [r["name"] for r in json.loads(by_env.output)]


def test_show_engine_lists_knobs_tables_range_and_sources(tmp_path):
    doc = json.loads(RUN.invoke(cli, ["show", "engine", "trtllm", "--format", "json"]).output)
    # trtllm.toml: step_overhead_us = 715.1 engine-wide, 503.8 in its [gpus.b200] table; max_batch 2048;
    # measured_batch [1, 384]. JSON keeps SI units (seconds) and lists; the table shows microseconds.
    assert doc["step_overhead_s"] == pytest.approx(715.1e-6) and doc["step_overhead_s.b200"] == pytest.approx(503.8e-6)
    assert doc["max_batch"] == 2048 and doc["measured_batch"] == [1, 384]
    assert "trtllm-serve --max_batch_size default 2048" in doc["source.max_batch"]
    table = RUN.invoke(cli, ["show", "engine", "trtllm"]).output.splitlines()
    assert [ln.split()[-1] for ln in table if ln.startswith(("step_overhead (us)", "step_overhead.b200 (us)"))] \
        == ["715.10", "503.80"]
    assert any(ln.split()[:2] == ["measured_streamed_tokens", "(/s)"] for ln in table)
    # A profile file (as `rackplan calibrate` writes) shows the same way.
    path = tmp_path / "mine.toml"
    path.write_text(profile_toml(engine("sglang")))
    mine = json.loads(RUN.invoke(cli, ["show", "engine", str(path), "--format", "json"]).output)
    assert mine["prefill_chunk_tokens_by_hbm"] == [160, 16384] and mine["name"] == "sglang"


@pytest.mark.parametrize("args,needle", [
    (["show", "engine", "trtlm"], "closest: trtllm"),
    (["show", "engine", "/no/such/profile.toml"], "profile.toml"),
    (["show", "gpu", "h100x"], "closest"),
    (["show", "model", "llama-3.1-9b"], "llama-3.1-8b"),
    (["show", "model", "/no/such/config.json"], "config.json"),
])
def test_unknown_names_one_line_exit_1(capfd, args, needle):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 1
    err = capfd.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_malformed_catalogue_file_one_line_exit_1(capfd, tmp_path):
    (tmp_path / "gpus").mkdir()
    (tmp_path / "gpus" / "my-gpu.toml").write_text(MY_GPU.replace("hbm_capacity_gb = 96", "hbm_capcity_gb = 96"))
    with pytest.raises(SystemExit) as info:
        main(["--catalogue", str(tmp_path), "gpus"])
    assert info.value.code == 1
    err = capfd.readouterr().err.strip()
    assert "hbm_capcity_gb" in err and len(err.splitlines()) == 1


def test_malformed_config_json_one_line_exit_1(capfd, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"hidden_size": 4096,')
    with pytest.raises(SystemExit) as info:
        main(["show", "model", str(bad)])
    assert info.value.code == 1
    assert "Traceback" not in capfd.readouterr().err
