"""The planner's command line: default scenario, JSON contract, pins, solvers, exports, errors."""

import json

import pytest
from click.testing import CliRunner

from planner.cli.main import cli, main

RUN = CliRunner()


def _json(args):
    result = RUN.invoke(cli, args + ["--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_default_plan_is_qwen3_on_one_gb200_rack():
    doc = _json(["plan", "--top", "2"])
    sc = doc["scenario"]
    assert (sc["model"], sc["system"], sc["budget"]["gpus"]) == ("qwen3-235b-a22b", "gb200-nvl72", 72)
    assert sc["workload"]["tokens_cached"] == 8192
    assert set(doc["plan"]) == {"tp", "pp", "ep", "dp", "batch", "quant", "kv_quant", "kv_offload_fraction",
                                "instances", "gpus"}
    for key in ("objective", "solver", "solve_time_s", "search_space", "verification", "tok_per_gpu",
                "instance_tps", "total_tps", "limit", "bounds_tok_per_gpu", "fabric_load_gb_per_s",
                "memory_per_gpu_bytes"):
        assert key in doc
    assert doc["verification"]["ok"] is True
    assert all(c["slack"] >= 0 for c in doc["verification"]["checks"])
    assert doc["plan"]["gpus"] <= 72
    # tok/s/GPU is total TPS over GPUs in use.
    assert doc["tok_per_gpu"] == pytest.approx(doc["total_tps"] / doc["plan"]["gpus"], rel=1e-9)
    assert len(doc["alternatives"]) == 1
    assert doc["alternatives"][0]["total_tps"] <= doc["total_tps"]


def test_pins_fix_the_decisions():
    doc = _json(["plan", "--tp", "4", "--ep", "4", "--quant", "fp8", "--kv-quant", "fp8", "--top", "1"])
    assert (doc["plan"]["tp"], doc["plan"]["ep"], doc["plan"]["quant"], doc["plan"]["kv_quant"]) == (4, 4, "fp8", "fp8")


def test_min_gpus_reaches_target_with_fewest_gpus():
    doc = _json(["min-gpus", "--target-tps", "100000", "--top", "1"])
    assert doc["total_tps"] >= 100000
    assert doc["objective"] == "min_gpus"
    # One GPU fewer cannot reach it: the best plan within gpus-1 falls short (or is infeasible).
    fewer = RUN.invoke(cli, ["plan", "--gpus", str(doc["plan"]["gpus"] - 1), "--format", "json", "--top", "1"])
    if fewer.exit_code == 0:
        assert json.loads(fewer.output)["total_tps"] < 100000


def test_cbc_and_highs_agree_and_exports(tmp_path):
    mps, lp = tmp_path / "m.mps", tmp_path / "m.lp"
    a = _json(["plan", "--solver", "highs", "--top", "1", "--export-mps", str(mps), "--export-lp", str(lp)])
    b = _json(["plan", "--solver", "cbc", "--top", "1"])
    assert a["total_tps"] == pytest.approx(b["total_tps"], rel=1e-9)
    assert "gpu_budget" in lp.read_text() and mps.stat().st_size > 0


def test_json_stdout_has_nothing_but_json(capfd):
    # HiGHS prints a banner on file descriptor 1 unless silenced around the solve.
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--format", "json", "--top", "1"])
    assert exit_info.value.code == 0
    out = capfd.readouterr().out
    json.loads(out)


@pytest.mark.parametrize("args,needle", [
    (["plan", "--model", "llama-3.1-405b", "--system", "hgx-h100", "--quant", "bf16", "--kv-offload-fraction", "0"],
     "memory: llama-3.1-405b needs 812 GB of weights at bf16"),
    (["plan", "--model", "llama-3.1-70b", "--system", "hgx-h200", "--min-tok-per-user", "5000"],
     "latency: the best reachable tokens/s per user is"),
    (["plan", "--model", "llama-3.1-70b", "--system", "hgx-h200", "--gpus", "1", "--quant", "bf16"],
     "budget: the smallest feasible instance needs 2 GPUs"),
    (["min-gpus", "--target-tps", "1e12", "--racks", "1"], "target: the most this budget"),
    (["plan", "--model", "no-such-model"], "unknown model"),
    (["plan", "--system", "dgx-h100"], "closest"),
])
def test_infeasible_and_bad_input_give_one_line_and_exit_1(capfd, args, needle):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 1
    err = capfd.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_usage_error_exits_2(capfd):
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--racks", "0"])
    assert exit_info.value.code == 2
