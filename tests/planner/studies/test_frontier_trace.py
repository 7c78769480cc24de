"""``rackplan frontier``: the latency-floor ladder, Pareto filtering, traced lines and the chart."""

import json
import sys

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.errors import InputError
from planner.studies.compare import ScenarioSpec, Settings, fastest_tok_per_user, plan_row
from planner.studies.frontier import floors, frontier, pareto, trace

RUN = CliRunner()
SMALL = Settings(max_batch=64)
SPEC = ScenarioSpec(model="qwen3-30b-a3b", system="hgx-h200", racks=1, tokens_cached=4096)


def test_floors_are_a_geometric_ladder_from_the_unconstrained_optimum():
    # 10 -> 40 in 3 steps: ratio 40/10 = 4 (less the 1e-9 margin), so 10 * 4^(1/2) = 20 and 40.
    ladder = floors(10.0, 40.0, 3)
    assert ladder[0] is None  # the first point has no latency limit
    assert ladder[1] == pytest.approx(20.0, rel=1e-8)
    assert ladder[2] == pytest.approx(40.0 * (1 - 1e-9), rel=1e-12) and ladder[2] < 40.0
    assert floors(50.0, 50.0, 5) == [None]  # nothing faster to reach
    with pytest.raises(InputError):
        floors(10.0, 40.0, 1)


def _point(tpu, tpg, batch):
    return {"tok_per_user": tpu, "tok_per_gpu": tpg, "layout": "1x1x1x1", "plan": {"batch": batch}}


def test_pareto_drops_dominated_and_duplicate_points():
    pts = [_point(10, 100, 64), _point(20, 80, 32), _point(15, 70, 48), _point(20, 80, 32), _point(30, 80, 16)]
    kept = pareto(pts)
    # (15, 70) is beaten by (20, 80) on both axes; (20, 80) is beaten by (30, 80) on speed at equal
    # throughput; the duplicate of (20, 80) goes with it.
    assert [(p["tok_per_user"], p["tok_per_gpu"]) for p in kept] == [(10, 100), (30, 80)]


def test_a_traced_line_trades_throughput_for_speed_monotonically():
    line = trace(SPEC, SMALL, points=5, label="h200")
    assert len(line) >= 3
    speeds = [p["tok_per_user"] for p in line]
    per_gpu = [p["tok_per_gpu"] for p in line]
    # Along a Pareto frontier one axis rises exactly when the other falls.
    assert speeds == sorted(speeds) and len(set(speeds)) == len(speeds)
    assert per_gpu == sorted(per_gpu, reverse=True)
    # The slowest point is the unconstrained optimum; the fastest is the fastest plan of the space.
    assert line[0]["plan"] == plan_row(SPEC, SMALL)["plan"] and line[0]["floor_tok_per_user"] is None
    assert line[-1]["tok_per_user"] == pytest.approx(fastest_tok_per_user(SPEC, SMALL), rel=1e-6)
    for p in line[1:]:
        assert p["tok_per_user"] >= p["floor_tok_per_user"]  # every point meets its floor
        assert p["verification"]["ok"] and p["series"] == "h200"


def test_one_line_per_scenario_and_failed_scenarios_say_why():
    small = ScenarioSpec(model="qwen3-30b-a3b", system="hgx-h200", gpus=4, tokens_cached=4096)
    big = ScenarioSpec(model="llama-3.1-405b", system="hgx-h100", gpus=4, tokens_cached=4096)
    rows = frontier([small, big], Settings(max_batch=16), points=3)
    # Lines are named by what varies between scenarios: model and system here.
    assert {r["series"] for r in rows} == {"qwen3-30b-a3b, hgx-h200", "llama-3.1-405b, hgx-h100"}
    failed = [r for r in rows if r["status"] != "ok"]
    # 405 B parameters need 406 GB even at fp8: more than 4 H100 hold (4 x 72 GB usable), so the
    # smallest instance is 8 GPUs; the line keeps one row that says so.
    assert len(failed) == 1 and failed[0]["series"] == "llama-3.1-405b, hgx-h100"
    assert failed[0]["reason"] == "budget: the smallest feasible instance needs 8 GPUs but the budget is 4 GPUs"
    ok = [r for r in rows if r["index"] == 1]
    assert [r["point"] for r in ok] == list(range(1, len(ok) + 1)) and len(ok) >= 2


def test_plot_png_and_svg(tmp_path):
    rows = frontier([SPEC, ScenarioSpec(model="qwen3-30b-a3b", system="mi355x-8", racks=1, tokens_cached=4096)],
                    SMALL, points=4)
    from planner.report.plot import plot_frontier
    png = plot_frontier(rows, tmp_path / "f.png", "qwen3-30b-a3b")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000  # a real raster chart
    svg = (plot_frontier(rows, tmp_path / "f.svg")).read_text()
    # Axis labels carry their units; each line is in the legend; layouts are annotated.
    assert "tokens/s per user" in svg and "tokens/s per GPU" in svg
    assert "hgx-h200" in svg and "mi355x-8" in svg and "TP1" in svg


def test_plot_without_matplotlib_is_one_clear_error(monkeypatch, tmp_path):
    from planner.report.plot import plot_frontier
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    rows = trace(SPEC, SMALL, points=2, label="x")
    with pytest.raises(InputError, match=r"pip install 'rackplan\[plot\]'"):
        plot_frontier(rows, tmp_path / "f.png")


def test_cli_frontier_json_and_plot(tmp_path):
    out = tmp_path / "chart.svg"
    result = RUN.invoke(cli, ["frontier", "--model", "qwen3-30b-a3b", "--system", "hgx-h200", "--tokens-cached",
                              "4096", "--max-batch", "64", "--points", "4", "--plot", str(out), "--format", "json"],
                        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)  # JSON alone on stdout
    assert rows[0]["point"] == 1 and rows[0]["status"] == "ok"
    assert out.exists()
    bad = RUN.invoke(cli, ["frontier", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--max-batch", "8",
                           "--points", "2", "--plot", str(tmp_path / "chart.pdf")])
    assert bad.exit_code == 1 and "use a .png or .svg" in str(bad.exception)


def test_points_say_whether_measured_runs_back_them():
    # trtllm.toml measured 1-384 sequences and 4-4,010 tokens a step: the batch-1 point at the fast end
    # processes 1 token a step, below any measured run; the two slower points (batch 384 and 128) lie inside.
    args = ["frontier", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8", "--tokens-cached", "4096",
            "--engine", "trtllm", "--points", "3"]
    rows = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).output)
    assert [(r["plan"]["batch"], r["outside_measured_range"]) for r in rows] == [
        (384, []), (128, []), (1, ["1 tokens per step outside the 4-4,010 trtllm was measured at"])]
    table = CliRunner().invoke(cli, args).output.splitlines()
    assert table[1].split()[-4:] == ["Limit", "range", "why", "not"]  # the reason stays the last column
    assert [ln.split()[-2] for ln in table[3:6]] == ["in", "in", "out"]
