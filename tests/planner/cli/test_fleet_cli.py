"""``rackplan fleet``, ``plan --disagg`` and ``compare --serving agg,disagg`` from the command line."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardware.catalogue import Catalogue
from planner.cli.main import cli, main
from planner.fleet.spec import load

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "fleet.toml"
RUN = CliRunner()

SMALL = """
[plan]
minimise = "{objective}"

[[hardware]]
system = "hgx-h200"
servers = 1
price_per_server_hour = 28.0

[[hardware]]
system = "mi355x-8"
gpus = 8
price_per_gpu_hour = 3.0
power_w_per_gpu = 1000

[[model]]
name = "llama-3.1-8b"
isl = 1024
osl = 256
target_tps = 20000
max_tpot_ms = 40
"""


def _json(args):
    result = RUN.invoke(cli, args + ["--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _write(tmp_path, text, name="fleet.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_example_fleet_meets_every_target_verified():
    doc = _json(["fleet", str(EXAMPLE)])
    assert doc["objective"] == "min_cost" and doc["verification"]["ok"]
    # Reports name kinds and models as written (issue 17), not by their constraint labels (gb200_nvl72).
    assert [k["kind"] for k in doc["kinds"]] == ["gb200-nvl72", "mi355x-8", "hgx-h200"]
    # 2 NVL72 racks x 72 + 16 MI355X servers x 8 + 8 H200 servers x 8 = 144 + 128 + 64 = 336 GPUs held.
    assert doc["totals"]["gpus_held"] == 336
    for m in doc["models"]:
        assert m["output_tps"] >= m["target_tps"] * (1 - 1e-9)
    t = doc["totals"]
    # Efficiency figures by definition: tok/J = tok/s / W; tok/s per MW = tok/s / (W / 1e6);
    # cost per million tokens = cost per hour / (tok/s x 3600 s) x 1e6.
    assert t["tokens_per_joule"] == pytest.approx(t["output_tps"] / (t["power_kw"] * 1e3), rel=1e-12)
    assert t["tok_per_s_per_mw"] == pytest.approx(t["output_tps"] / (t["power_kw"] / 1e3), rel=1e-12)
    assert t["cost_per_million_tokens"] == pytest.approx(t["cost_per_hour"] / (t["output_tps"] * 3600) * 1e6, rel=1e-12)
    # The objective is the fleet's price: GPUs in use x price per GPU-hour, summed over pools.
    assert doc["objective_value"] == pytest.approx(sum(p["cost_per_hour"] for p in doc["pools"]), rel=1e-9)
    assert t["power_kw"] <= 600


@pytest.mark.parametrize("objective", ["gpus", "cost", "power"])
def test_small_fleet_each_objective(tmp_path, objective):
    doc = _json(["fleet", _write(tmp_path, SMALL.format(objective=objective))])
    assert doc["objective"] == f"min_{objective}" and doc["verification"]["ok"]
    value = {"gpus": doc["totals"]["gpus"], "cost": doc["totals"]["cost_per_hour"],
             "power": doc["totals"]["power_kw"] * 1e3}[objective]
    assert doc["objective_value"] == pytest.approx(value, rel=1e-9)
    assert doc["models"][0]["output_tps"] >= 20000 * (1 - 1e-9)


def test_cbc_and_highs_agree(tmp_path):
    path = _write(tmp_path, SMALL.format(objective="cost"))
    highs, cbc = (_json(["fleet", path, "--solver", name]) for name in ("highs", "cbc"))
    assert cbc["verification"]["ok"]
    assert cbc["objective_value"] == pytest.approx(highs["objective_value"], rel=1e-6)


def test_spec_converts_counts_prices_and_power_once(tmp_path):
    text = SMALL.format(objective="cost") + """
[[hardware]]
system = "gb200-nvl72"
racks = 1
price_per_rack_hour = 432.0
power_kw_per_rack = 120
"""
    fleet = load(_write(tmp_path, text), Catalogue())
    h200, mi, gb = fleet.kinds
    # servers = 1 of 8 GPUs; $28 per server-hour / 8 = $3.5 per GPU-hour; board power 700 W (catalogue).
    assert (h200.gpus, h200.price_per_gpu_hour, h200.power_w_per_gpu) == (8, 3.5, h200.hardware.gpu.power_w)
    assert (mi.gpus, mi.price_per_gpu_hour, mi.power_w_per_gpu) == (8, 3.0, 1000.0)
    # One NVL72 rack = 72 GPUs; $432 per rack-hour / 72 = $6; 120 kW per rack / 72 = 1,666.7 W per GPU.
    assert (gb.gpus, gb.price_per_gpu_hour) == (72, 6.0)
    assert gb.power_w_per_gpu == pytest.approx(120e3 / 72)


def test_cli_models_replace_the_files_and_maximise(tmp_path):
    path = _write(tmp_path, SMALL.format(objective="gpus"))
    doc = _json(["fleet", path, "--maximise", "tps", "--model", "qwen3-30b-a3b", "--model", "llama-3.1-8b",
                 "--isl", "512", "--osl", "128", "--serving", "agg"])
    assert doc["objective"] == "max_tps" and [m["model"] for m in doc["models"]] == ["qwen3-30b-a3b", "llama-3.1-8b"]
    # Weights default to 1: the objective is the two models' output tokens/s summed.
    assert doc["objective_value"] == pytest.approx(sum(m["output_tps"] for m in doc["models"]), rel=1e-6)
    assert all(p["role"] == "agg" for p in doc["pools"])


def test_fixed_shares_split_the_output(tmp_path):
    text = SMALL.format(objective="gpus").replace('minimise = "gpus"', 'maximise = "tps"').replace(
        "target_tps = 20000", "share = 2") + '[[model]]\nname = "qwen3-30b-a3b"\nisl = 1024\nosl = 256\nshare = 1\n'
    doc = _json(["fleet", _write(tmp_path, text)])
    llama, qwen = doc["models"]
    # Shares 2 : 1: the fleet serves Llama twice Qwen's tokens, at the largest total both allow,
    # and the objective is that total per unit of share (Qwen's output, share 1).
    assert llama["output_tps"] == pytest.approx(2 * qwen["output_tps"], rel=1e-9)
    assert doc["objective_value"] == pytest.approx(qwen["output_tps"], rel=1e-6)
    assert min(llama["capacity_tps"] / 2, qwen["capacity_tps"]) == pytest.approx(qwen["output_tps"], rel=1e-9)


def test_fixed_shares_solve_where_highs_doubted_its_own_optimum(tmp_path):
    # The same fleet under a default profile whose pooled TTFT knobs sit at prefill_wait_fraction 0.1034 (no root
    # queue: the queue of that day) and ttft_overhead_us 34,310 (a refit on every model family moved them there once):
    # HiGHS 1.16 found the optimum of the first solve, then rejected it at its own final check (a primal infeasibility
    # of 1e-6 on rows of 1e3-1e5 tokens/s: status 'Not Solved'); the first max-TPS solve's MIP feasibility tolerance
    # of 1e-7 (planner.milp.fleet_solve.MAX_FIRST_SOLVE_OPTIONS) meets it.
    default = (Path(__file__).resolve().parents[3] / "planner" / "engine" / "data" / "default.toml").read_text()
    profile, swapped = re.subn(r"^prompt_queue_scale = [0-9.]+$",
                               "prompt_queue_scale = 0.0\nprefill_wait_fraction = 0.1034", default, count=1, flags=re.M)
    profile, more = re.subn(r"^ttft_overhead_us = [0-9.]+$", "ttft_overhead_us = 34310.0", profile, count=1, flags=re.M)
    assert swapped == more == 1
    text = SMALL.format(objective="gpus").replace('minimise = "gpus"', 'maximise = "tps"').replace(
        "target_tps = 20000", "share = 2") + '[[model]]\nname = "qwen3-30b-a3b"\nisl = 1024\nosl = 256\nshare = 1\n'
    doc = _json(["fleet", _write(tmp_path, text), "--profile", _write(tmp_path, profile, "profile.toml")])
    llama, qwen = doc["models"]
    assert doc["verification"]["ok"] and llama["output_tps"] == pytest.approx(2 * qwen["output_tps"], rel=1e-9)


def test_plan_disagg_json_has_both_pools():
    doc = _json(["plan", "--disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8",
                 "--isl", "1024", "--osl", "256", "--max-tpot-ms", "40", "--batch", "8,64,256"])
    assert doc["verification"]["ok"]
    assert {p["role"] for p in doc["pools"]} == {"prefill", "decode"}
    assert doc["totals"]["gpus"] <= 8


def test_min_gpus_disagg_reaches_the_target_with_both_pools():
    doc = _json(["min-gpus", "--disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--isl", "2048",
                 "--osl", "256", "--target-tps", "30000", "--batch", "8,64,256"])
    assert doc["objective"] == "min_gpus" and doc["verification"]["ok"]
    assert doc["totals"]["output_tps"] >= 30000 * (1 - 1e-9)
    # The objective is the GPUs of both pools.
    assert doc["objective_value"] == doc["totals"]["gpus"] == sum(p["gpus"] for p in doc["pools"])


def test_steady_state_models_are_served_aggregated(tmp_path):
    # tokens_cached workloads have no prompt to hand off: only aggregated pools, no TTFT.
    doc = _json(["fleet", _write(tmp_path, SMALL.format(objective="power")), "--model", "llama-3.1-8b=30000",
                 "--tokens-cached", "4096"])
    assert {p["role"] for p in doc["pools"]} == {"agg"} and doc["kv_transfer"] == []
    assert doc["models"][0]["output_tps"] >= 30000 * (1 - 1e-9)
    assert all(p["ttft_s"] is None for p in doc["pools"])


def test_compare_serving_agg_and_disagg():
    result = RUN.invoke(cli, ["compare", "--serving", "agg,disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200",
                              "--gpus", "8", "--isl", "1024", "--osl", "256", "--batch", "8,64,256",
                              "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert [r["scenario"]["serving"] for r in rows] == ["agg", "disagg"]
    assert all(r["status"] == "ok" for r in rows)
    disagg = rows[1]
    # The disaggregated row counts both pools' GPUs and its output tokens/s per GPU.
    assert disagg["gpus"] == sum(p["gpus"] for p in disagg["pools"])
    assert disagg["tok_per_gpu"] == pytest.approx(disagg["total_tps"] / disagg["gpus"], rel=1e-12)


BAD = [
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = -2\n", "hardware[1].servers"),
    ("[[hardware]]\nsystem = 'hgx-h201'\nservers = 2\n[[model]]\nname='llama-3.1-8b'\ntokens_cached=10\n",
     "hardware[1]: unknown system"),
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = 2\nrack = 1\n",
     "field 'hardware[1].rack' is not a known key; did you mean 'racks'?"),
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = 2\nracks = 1\n", "give one of racks, servers, gpus"),
    ("[[hardware]\nsystem = 'hgx-h200'\n", "malformed TOML"),
    ("[plan]\nminimise='cost'\n[[hardware]]\nsystem = 'hgx-h200'\nservers = 1\n[[model]]\nname='llama-3.1-8b'\n"
     "tokens_cached=1024\ntarget_tps=100\n", "hardware[1].price_per_gpu_hour: a price is needed"),
    ("[plan]\nminimise='gpus'\n[[hardware]]\nsystem = 'hgx-h200'\nservers = 1\n[[model]]\nname='llama-3.1-8b'\n"
     "tokens_cached=1024\n", "model[1].target_tps: required"),
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = 1\n[[model]]\nname='llama-3.1-8b'\ntokens_cached=1024\n"
     "serving='disagg'\n", "model[1].serving: 'disagg' needs an isl/osl workload"),
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = 1\n[[model]]\nname='llama-3.1-8c'\ntokens_cached=1024\n",
     "model[1].name: unknown model"),
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = 1\n", "no models to plan"),
    ("[[hardware]]\nsystem = 'hgx-h200'\nservers = 1\n[[model]]\nname='llama-3.1-8b'\nisl=1024\nosl=128\n"
     "target_tps=1e9\n", "model llama-3.1-8b: target 1,000,000,000 output tok/s, but the whole fleet"),
]


@pytest.mark.parametrize("text,needle", BAD, ids=[b[1][:30] for b in BAD])
def test_bad_fleet_files_give_one_line_and_exit_1(tmp_path, capfd, text, needle):
    path = _write(tmp_path, text)
    with pytest.raises(SystemExit) as exit_info:
        main(["fleet", path])
    assert exit_info.value.code == 1
    err = capfd.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err, err


def test_missing_file_clashing_objectives_and_stray_options(tmp_path, capfd):
    for args, needle in ((["fleet", str(tmp_path / "none.toml")], "cannot read fleet file"),
                         (["fleet", str(EXAMPLE), "--minimise", "gpus", "--maximise", "tps"], "not both"),
                         (["fleet", str(EXAMPLE), "--isl", "100"], "--isl applies to --model NAME=TPS models")):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 1
        err = capfd.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err


def test_a_label_the_file_gives_is_the_name_reports_print(tmp_path):
    text = SMALL.format(objective="gpus").replace('name = "llama-3.1-8b"', 'name = "llama-3.1-8b"\nlabel = "chat"')
    doc = _json(["fleet", _write(tmp_path, text)])
    assert [m["model"] for m in doc["models"]] == ["chat"] and doc["models"][0]["name"] == "llama-3.1-8b"
    assert {p["model"] for p in doc["pools"]} == {"chat"}


def test_plan_disagg_applies_the_default_limits_and_states_them():
    # isl/osl and no limit given: TPOT <= 80 ms and TTFT <= 2,000 ms (planner.studies.serving defaults,
    # the MLPerf Inference v5.1 server scenario) bind the pools, as they bind an aggregated plan.
    args = ["plan", "--disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8", "--isl", "1024",
            "--osl", "256", "--batch", "8,64,256,1024"]
    doc = _json(args)
    assert doc["scenario"]["limits"] == {"max_tpot_s": 0.08, "max_ttft_s": 2.0,
                                         "defaults": {"applied": ["tpot", "ttft"],
                                                      "source": "MLPerf Inference v5.1 server scenario"},
                                         "margin": None}  # no --latency-margin
    model = doc["models"][0]
    assert (model["max_tpot_s"], model["max_ttft_s"]) == (0.08, 2.0)  # what the MILP was given
    assert model["worst_tpot_s"] <= 0.08 and model["worst_ttft_s"] <= 2.0
    text = RUN.invoke(cli, args, catch_exceptions=False).stdout.splitlines()
    assert text[2] == ("limits: TPOT <= 80.0 ms (>= 12.5 tok/s per user), TTFT <= 2,000 ms (TPOT and TTFT: isl/osl "
                       "default, MLPerf Inference v5.1 server scenario; change with --min-tok-per-user, "
                       "--max-tpot-ms, --max-ttft-ms; 0 lifts one)")
    # 0 lifts both: no limit reaches the MILP.
    lifted = _json([*args, "--min-tok-per-user", "0", "--max-ttft-ms", "0"])
    assert lifted["scenario"]["limits"] == {"max_tpot_s": None, "max_ttft_s": None, "defaults": None, "margin": None}
    assert (lifted["models"][0]["max_tpot_s"], lifted["models"][0]["max_ttft_s"]) == (None, None)


def test_models_are_named_as_the_user_typed_them(tmp_path, capsys):
    # The constraint label of "meta-llama/Llama-3.1-8B" is meta_llama_llama_3_1_8b; neither the error
    # message nor the tables print it: they print the id as typed.
    from planner.cli.main import main
    path = _write(tmp_path, SMALL.format(objective="gpus"))
    with pytest.raises(SystemExit) as info:
        main(["fleet", path, "--model", "meta-llama/Llama-3.1-8B=1000000000", "--isl", "1024", "--osl", "256"])
    err = capsys.readouterr().err
    assert info.value.code == 1 and err.count("\n") == 1
    assert err.startswith("error: model meta-llama/Llama-3.1-8B: target 1,000,000,000 output tok/s, but the whole "
                          "fleet serving only this model reaches ")
    doc = _json(["fleet", path, "--model", "meta-llama/Llama-3.1-8B=20000", "--isl", "1024", "--osl", "256"])
    assert {p["model"] for p in doc["pools"]} == {m["model"] for m in doc["models"]} == {"meta-llama/Llama-3.1-8B"}
    assert doc["models"][0]["name"] == "llama-3.1-8b"  # the catalogue model it resolved to


def test_plan_disagg_explains_itself_with_solves_not_guesses():
    # Why this disaggregated plan: a limit binds when the question solved again with it relaxed (one
    # more rack; a latency limit 10 % looser) gives more output tokens/s; those solves are the moves.
    args = ["plan", "--disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8", "--isl", "1024",
            "--osl", "256", "--batch", "8,64,256,1024"]
    doc = _json(args)
    e = doc["explanation"]
    assert set(e) >= {"binding", "runner_up", "what_would_move_it"} and e["runner_up"] is None
    items = {x["name"]: x for x in e["binding"]}
    tps = doc["totals"]["output_tps"]
    rack, tpot, ttft = e["what_would_move_it"]
    assert rack["change"] == "one more rack (40 GPUs)"  # 8 + 32 GPUs of an hgx-h200 rack
    # The GPU budget binds (8 of 8 in use, and 40 GPUs serve more); the default latency limits do not
    # (relaxed by 10 %, the same plan's tokens/s).
    assert (items["gpu_budget"]["used"], items["gpu_budget"]["limit"]) == (8, 8) and items["gpu_budget"]["binding"]
    assert rack["total_tps"] > tps
    assert tpot["change"] == "TPOT limit relaxed by 10% to 88.0 ms" and tpot["total_tps"] == pytest.approx(tps)
    assert ttft["change"] == "TTFT limit relaxed by 10% to 2,200.0 ms" and ttft["total_tps"] == pytest.approx(tps)
    assert not items["tpot"]["binding"] and not items["ttft"]["binding"]
    assert items["tpot"]["used"] <= items["tpot"]["limit"] == 80.0
    # Every pool's HBM is listed against the usable capacity; each binds only when at least 99 % full.
    hbm = [x for x in e["binding"] if x["name"].startswith("hbm ")]
    assert len(hbm) == len(doc["pools"]) and all(x["binding"] == (x["used"] >= 0.99 * x["limit"]) for x in hbm)
    text = RUN.invoke(cli, args, catch_exceptions=False).stdout
    assert "why this plan:\n  binding: GPU budget: 8 of 8 GPUs in use (prefill and decode pools)\n" in text
    assert "  what would move it: one more rack (40 GPUs): " in text
