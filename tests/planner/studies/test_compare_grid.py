"""``rackplan compare``: grid expansion, rows equal to the planner's own optimum, ratios, failed rows."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from planner.budget import Budget
from planner.cli.main import cli
from planner.errors import InputError
from planner.search.serving import optimise
from planner.serving.candidates import Limits
from planner.serving.resolve import scenario
from planner.serving.space import default_space
from planner.studies import compare as cmp
from planner.studies.compare import ScenarioSpec, Settings, axis_values, expand, plan_row

RUN = CliRunner()
# A small search space keeps each plan to a few milliseconds; every test plans the same way.
SMALL = Settings(max_batch=64)


def test_expand_is_the_product_in_axis_order():
    grid = axis_values(models=["m1", "m2"], systems=["a", "b", "c"], racks=[1, 2], tokens_cached=[8192],
                       min_tok_per_user=[0, 40])
    specs = expand(grid)
    # 2 models x 3 systems x 2 budgets x 1 context x 2 latency floors = 24 scenarios.
    assert len(specs) == 24
    # The first axis (model) varies slowest, the last given (latency) fastest.
    assert [s.model for s in specs[:12]] == ["m1"] * 12
    assert [s.min_tok_per_user for s in specs[:2]] == [None, 40.0]  # 0 means no limit
    assert (specs[2].system, specs[2].racks) == ("a", 2)
    assert len({s.label() for s in specs}) == 24  # labels identify scenarios (sweep resume relies on it)


def test_isl_osl_and_quant_sets_are_axes():
    grid = axis_values(models=["m"], isl=[1024, 8192], osl=[1024], quants=[("bf16",), ("fp8", "fp4")])
    specs = expand(grid)
    # 2 isl x 1 osl contexts x 2 quantisation sets.
    assert [(s.isl, s.osl, s.quant) for s in specs] == [
        (1024, 1024, ("bf16",)), (1024, 1024, ("fp8", "fp4")), (8192, 1024, ("bf16",)), (8192, 1024, ("fp8", "fp4"))]


def test_arrivals_multiply_the_isl_osl_contexts():
    # 1 isl x 2 osl x steady and burst: four contexts, the burst of each length after its steady loop
    specs = expand(axis_values(models=["m"], isl=[1024], osl=[128, 512], arrivals=["steady", "burst"]))
    assert [(s.osl, s.arrivals) for s in specs] == [(128, "steady"), (128, "burst"), (512, "steady"), (512, "burst")]
    assert specs[1].context_label() == "isl/osl 1024/128, one burst"
    # without the axis every isl/osl context is a steady loop, the spec's default
    assert {s.arrivals for s in expand(axis_values(models=["m"], isl=[1024], osl=[128]))} == {"steady"}


@pytest.mark.parametrize("kw,message", [
    ({"models": ["m"], "tokens_cached": [2048], "arrivals": ["burst"]}, "give --isl and --osl with --arrivals"),
    ({"models": ["m"], "isl": [8], "osl": [8], "arrivals": ["poisson"]}, "unknown 'poisson'; give steady or burst"),
    ({"models": ["m"], "systems": ["a"], "gpus": ["h100"]}, "not both"),
    ({"models": ["m"], "racks": [1], "gpu_budgets": [8]}, "not both"),
    ({"models": ["m"], "isl": [1024]}, "go together"),
])
def test_contradictory_axes_are_refused(kw, message):
    with pytest.raises(InputError, match=message):
        axis_values(**kw)


def test_row_is_the_planners_own_optimum():
    # Oracle: a compare row is optimise() on the same scenario, nothing else.
    spec = ScenarioSpec(model="qwen3-30b-a3b", system="hgx-h200", racks=1, tokens_cached=4096, min_tok_per_user=50)
    row = plan_row(spec, SMALL)
    sc = scenario(model="qwen3-30b-a3b", system="hgx-h200", tokens_cached=4096)
    direct = optimise(sc, Budget.of(sc.hardware, 1, None), default_space(sc, 64), Limits.from_cli(50, None, None))
    assert row["status"] == "ok"
    assert row["plan"] == direct.best.plan.as_dict()
    assert row["total_tps"] == pytest.approx(float(direct.best.scores.total_tps[0]), rel=1e-12)
    assert row["verification"]["ok"] is True
    assert row["tok_per_user"] >= 50  # the latency floor holds
    assert "solve_time_s" not in row  # rows carry no timings: they must be reproducible


def test_ratios_are_to_the_baseline_row():
    specs = expand(axis_values(models=["qwen3-30b-a3b"], systems=["hgx-h200"], racks=[1, 2], tokens_cached=[4096]))
    rows = cmp.compare(specs, SMALL, baseline=2)
    one, two = rows
    assert one["total_tps_ratio"] == pytest.approx(one["total_tps"] / two["total_tps"], rel=1e-12)
    assert two["total_tps_ratio"] == 1.0
    assert one["tok_per_gpu_ratio"] == pytest.approx(one["tok_per_gpu"] / two["tok_per_gpu"], rel=1e-12)
    # Two racks of 32 H200 hold twice the instances of one: the optimum doubles, so row 1 is half.
    assert one["total_tps_ratio"] == pytest.approx(0.5, rel=1e-9)


def test_more_racks_never_lower_the_optimum():
    specs = expand(axis_values(models=["llama-3.1-8b"], systems=["mi355x-8"], racks=[1, 2, 3], tokens_cached=[2048]))
    tps = [r["total_tps"] for r in cmp.compare(specs, SMALL)]
    assert tps == sorted(tps)


def test_a_scenario_that_cannot_be_planned_keeps_its_row_with_the_reason():
    specs = expand(axis_values(models=["qwen3-30b-a3b"], systems=["hgx-h200"], tokens_cached=[4096],
                               min_tok_per_user=[0, 5000], serving=["agg"]))
    specs.append(ScenarioSpec(model="qwen3-30b-a3b", system="hgx-h200", tokens_cached=4096, serving="nope"))
    rows = cmp.compare(specs, SMALL)
    assert [r["status"] for r in rows] == ["ok", "infeasible", "error"]
    # 5,000 tok/s per user is beyond any H200 plan: the diagnosis names the best reachable speed.
    assert rows[1]["reason"].startswith("latency: the best reachable tokens/s per user is")
    assert "unknown serving mode 'nope'" in rows[2]["reason"]
    assert rows[1]["total_tps_ratio"] is None and rows[1].get("plan") is None


def test_a_new_serving_mode_is_one_registration(monkeypatch):
    def halved(spec, settings):  # a stand-in mode: the aggregated plan at half the throughput
        out = cmp.plan_aggregated(spec, settings)
        return {**out, "total_tps": out["total_tps"] / 2}
    monkeypatch.setitem(cmp.SERVING, "half", halved)
    specs = expand(axis_values(models=["llama-3.1-8b"], systems=["hgx-h100"], tokens_cached=[2048],
                               serving=["agg", "half"]))
    rows = cmp.compare(specs, SMALL)
    assert [r["scenario"]["serving"] for r in rows] == ["agg", "half"]
    assert rows[1]["total_tps_ratio"] == pytest.approx(0.5, rel=1e-12)


def test_baseline_out_of_range_is_an_input_error():
    specs = expand(axis_values(models=["llama-3.1-8b"], systems=["hgx-h100"], tokens_cached=[2048]))
    with pytest.raises(InputError, match="from 1 to 1"):
        cmp.compare(specs, SMALL, baseline=2)


def _cli_json(args):
    result = RUN.invoke(cli, ["compare", *args, "--max-batch", "64", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_rows_cover_every_combination_of_the_lists():
    doc = _cli_json(["--model", "qwen3-30b-a3b", "--system", "hgx-h200,mi355x-8", "--fabric", "default,400gbe",
                     "--quant", "bf16", "--quant", "fp8,fp4", "--tokens-cached", "4096"])
    # 2 systems x 2 quantisation sets x 2 fabrics, systems slowest.
    assert len(doc["rows"]) == 8
    assert [r["scenario"]["system"] for r in doc["rows"]] == ["hgx-h200"] * 4 + ["mi355x-8"] * 4
    assert [r["scenario"]["quant"] for r in doc["rows"][:4]] == [["bf16"], ["bf16"], ["fp8", "fp4"], ["fp8", "fp4"]]
    assert all(r["plan"]["quant"] == "bf16" for r in doc["rows"] if r["scenario"]["quant"] == ["bf16"])
    assert doc["baseline"] == 1 and doc["rows"][0]["total_tps_ratio"] == 1.0


def test_cli_table_marks_the_baseline_and_shows_why_not():
    args = ["compare", "--model", "qwen3-30b-a3b", "--system", "hgx-h200", "--tokens-cached", "4096",
            "--min-tok-per-user", "0,5000", "--max-batch", "64", "--baseline", "1"]
    result = RUN.invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("compare: 2 scenarios; shared: ctx 4096")
    assert lines[3].startswith("1*")  # title, header, rule, then the baseline row
    # The default table fits 120 characters: row 2's reason is under it, wrapped to the same width.
    assert lines[5].startswith("#2 why not: infeasible: latency: the best reachable")
    assert max(len(line) for line in lines) <= 120
    # The table shows 10 of its 25 columns (#, 4 axes, the 5 plan columns that fit), the reason goes
    # below and 14 are left out; --wide prints all 25, the reason in its row.
    assert lines[-1] == "14 more columns: --wide shows every column"
    wide = RUN.invoke(cli, [*args, "--wide"]).output.splitlines()
    assert len(wide[1].split()) > 24 and "infeasible: latency: the best reachable" in wide[4]
    assert max(len(line) for line in wide) > 300


def test_cli_baseline_out_of_range_is_one_line_exit_1(capsys):
    from planner.cli.main import main
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--baseline", "3", "--max-batch", "8"])
    assert exit_info.value.code == 1
    # One scenario, so row 3 does not exist: one line on stderr, no traceback.
    assert capsys.readouterr().err == "error: --baseline must be a row number from 1 to 1 (got 3)\n"


def test_each_row_says_whether_measured_runs_back_it():
    # trtllm.toml measured contexts of 1,152-9,216 tokens: 4,096 cached lies inside, 16,384 outside.
    args = ["compare", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8",
            "--tokens-cached", "4096,16384", "--engine", "trtllm"]
    doc = _cli_json(args[1:])
    assert [r["outside_measured_range"] for r in doc["rows"]] == [
        [], ["context 16,384 tokens outside the 1,152-9,216 (isl + osl) trtllm was measured at"]]
    table = RUN.invoke(cli, args).output.splitlines()
    assert table[1].split()[-1] == "range"  # shown in the narrow table, ahead of the layout detail
    assert [ln.split()[-1] for ln in table[3:5]] == ["in", "out"]
    # The default engine records no range: its table leaves the column out rather than fill it with "-";
    # CSV keeps it (empty), so its columns do not depend on the rows.
    default = RUN.invoke(cli, args[:-2]).output.splitlines()
    assert "range" not in default[1].split()
    rows = list(csv.DictReader(io.StringIO(RUN.invoke(cli, [*args[:-2], "--format", "csv"]).output)))
    assert [r["range"] for r in rows] == ["", ""]
