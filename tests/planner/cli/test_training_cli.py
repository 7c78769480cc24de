"""Training mode on the command line: default scenario, JSON contract, pins, min-gpus, evaluate, errors."""

import json

import pytest
from click.testing import CliRunner

from planner.cli.main import cli, main

RUN = CliRunner()


def _json(args):
    result = RUN.invoke(cli, args + ["--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _fails(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_default_training_plan_is_llama_70b_on_one_gb200_rack():
    doc = _json(["plan", "--mode", "training", "--top", "2"])
    sc = doc["scenario"]
    assert (sc["mode"], sc["model"], sc["system"], sc["budget"]["gpus"]) == ("training", "llama-3.1-70b",
                                                                              "gb200-nvl72", 72)
    assert (sc["workload"]["global_batch_sequences"], sc["workload"]["sequence_tokens"]) == (256, 8192)
    assert set(doc["plan"]) == {"tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch", "recompute", "zero",
                                "precision", "gpus"}
    for key in ("tokens_per_s", "tok_per_gpu", "instance_steps_per_s", "total_steps_per_s", "mfu", "limit",
                "bounds_tok_per_gpu", "fabric_load_gb_per_s", "memory_per_gpu_bytes", "verification",
                "search_space", "objective", "solver"):
        assert key in doc
    assert doc["verification"]["ok"] and all(c["slack"] >= 0 for c in doc["verification"]["checks"])
    p = doc["plan"]
    # One job: tp x cp x pp GPUs per replica, dp replicas; the batch of 256 divides into dp x micro-batch.
    assert p["gpus"] == p["tp"] * p["cp"] * p["pp"] * p["dp"] <= 72
    assert 256 % (p["dp"] * p["micro_batch"]) == 0
    # tok/s/GPU is tokens/s over GPUs in use; mb/s (Tot Steps/s) is dp replicas x mb/s/replica.
    assert doc["tok_per_gpu"] == pytest.approx(doc["tokens_per_s"] / p["gpus"], rel=1e-9)
    assert doc["total_steps_per_s"] == pytest.approx(p["dp"] * doc["instance_steps_per_s"], rel=1e-9)
    # tokens/s = 256 sequences x 8192 tokens per step / step time.
    assert doc["tokens_per_s"] == pytest.approx(256 * 8192 / doc["step_time_s"], rel=1e-9)
    assert doc["memory_per_gpu_bytes"]["total"] <= doc["memory_per_gpu_bytes"]["capacity"]
    assert len(doc["alternatives"]) == 1 and doc["alternatives"][0]["tokens_per_s"] <= doc["tokens_per_s"]


def test_pins_and_time_to_train():
    doc = _json(["plan", "--mode", "training", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--gpus", "16",
                 "--tp", "2", "--zero", "3", "--precision", "bf16", "--recompute", "full,selective",
                 "--train-tokens", "1e12", "--top", "1"])
    p = doc["plan"]
    assert (p["tp"], p["zero"], p["precision"]) == (2, 3, "bf16") and p["recompute"] in ("full", "selective")
    # Time to train: 1e12 tokens at tokens/s, in seconds and days (86,400 s).
    assert doc["time_to_train_s"] == pytest.approx(1e12 / doc["tokens_per_s"], rel=1e-9)
    assert doc["time_to_train_days"] == pytest.approx(doc["time_to_train_s"] / 86400, rel=1e-12)
    assert doc["search_space"]["tp"] == [2] and doc["search_space"]["zero"] == [3]


def test_min_gpus_meets_a_deadline():
    # 1e11 tokens in 2 days needs 1e11 / 172,800 s = 578,704 tokens/s.
    doc = _json(["min-gpus", "--mode", "training", "--model", "llama-3.1-8b", "--system", "hgx-h100",
                 "--train-tokens", "1e11", "--deadline-days", "2", "--global-batch", "512", "--top", "1"])
    assert doc["scenario"]["target_tokens_per_s"] == pytest.approx(1e11 / 172800, rel=1e-12)
    assert doc["tokens_per_s"] >= 1e11 / 172800
    assert doc["time_to_train_days"] <= 2.0
    target = [c for c in doc["verification"]["checks"] if c["name"] == "target_tokens_per_s"][0]
    assert target["slack"] >= 0
    # Fewer GPUs cannot reach it: the same target with a budget just below the answer is infeasible.
    result = RUN.invoke(cli, ["min-gpus", "--mode", "training", "--model", "llama-3.1-8b", "--system", "hgx-h100",
                              "--train-tokens", "1e11", "--deadline-days", "2", "--global-batch", "512",
                              "--gpus", str(doc["plan"]["gpus"] - 1)])
    assert result.exit_code == 1 and "target" in str(result.exception)


def test_evaluate_training_layout():
    doc = _json(["evaluate", "--mode", "training", "--model", "llama-3.1-405b", "--system", "hgx-h100", "--tp", "8",
                 "--pp", "16", "--vpp", "4", "--dp", "128", "--global-batch", "2048", "--recompute", "full"])
    assert doc["plan"]["gpus"] == 16384 and doc["micro_batches"] == 16   # 2048 / (128 x 1)
    assert doc["feasible"] and doc["limit"] in ("compute", "hbm", "comm", "bubble")
    # Bubble: (pp - 1) / vpp micro-batch times = 15 / 4 x micro_batch_s.
    assert doc["time_split_s"]["bubble"] == pytest.approx(15 / 4 * doc["micro_batch_s"], rel=1e-9)
    # A layout that breaks a rule is scored and reported infeasible, with the reason and its numbers.
    bad = _json(["evaluate", "--mode", "training", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--dp", "3",
                 "--global-batch", "8"])
    assert not bad["feasible"] and bad["reasons"][0] == "global batch 8 does not divide by dp x micro_batch = 3"
    text = RUN.invoke(cli, ["evaluate", "--mode", "training", "--model", "llama-3.1-8b", "--gpu", "h100-sxm",
                            "--dp", "8", "--global-batch", "64"]).output
    # Units in the field names (issue 17): percent for MFU, GB for memory.
    assert "mfu (%)" in text and "memory_per_gpu.optimiser (GB)" in text


def test_errors_are_one_line(capsys):
    assert "--quant" in _fails(["plan", "--mode", "training", "--quant", "fp8"], capsys)
    assert "--micro-batch needs --mode training" in _fails(["plan", "--micro-batch", "2"], capsys)
    assert "--target-tps" in _fails(["min-gpus"], capsys)
    assert "--target-tokens-per-s" in _fails(["min-gpus", "--mode", "training"], capsys)
    assert "--train-tokens" in _fails(["min-gpus", "--mode", "training", "--deadline-days", "3"], capsys)
    assert "memory" in _fails(["plan", "--mode", "training", "--model", "llama-3.1-405b", "--system", "hgx-h100",
                               "--gpus", "8"], capsys)
    assert "ZeRO stage 5" in _fails(["evaluate", "--mode", "training", "--model", "llama-3.1-8b", "--system",
                                     "hgx-h100", "--zero", "5"], capsys)
    assert "unknown recompute" in _fails(["evaluate", "--mode", "training", "--model", "llama-3.1-8b", "--system",
                                          "hgx-h100", "--recompute", "some"], capsys)


def test_large_jobs_keep_milp_coefficients_within_highs_limits():
    # Jobs of thousands of GPUs put more than 1e15 bytes/s on a tier, which HiGHS refuses as a matrix
    # coefficient (large_matrix_value); the fabric rows are written in GB/s. 1.5e12 tokens in 30 days needs
    # 1.5e12 / 2,592,000 s = 578,704 tokens/s; the search reaches 1024 racks (73,728 GPUs).
    doc = _json(["min-gpus", "--mode", "training", "--model", "llama-3.1-70b", "--system", "gb200-nvl72",
                 "--train-tokens", "1.5e12", "--deadline-days", "30", "--global-batch", "512", "--top", "1"])
    assert doc["scenario"]["budget"]["gpus"] == 1024 * 72
    assert doc["tokens_per_s"] >= 1.5e12 / (30 * 86400) and doc["verification"]["ok"]
