"""``rackplan sweep``: grid files, streaming rows, identical results across local executors, resume."""

import csv
import json

import pytest
from click.testing import CliRunner

from planner.cli.main import cli, main
from planner.errors import InputError
from planner.studies.sweep import FIELDS, load_grid, run_sweep

RUN = CliRunner()
GRID = """
models = ["qwen3-30b-a3b", "llama-3.1-8b"]
systems = ["hgx-h200", "mi355x-8"]
racks = [1, 2]
tokens_cached = [4096]
min_tok_per_user = [0, 5000]
fabrics = ["default"]

[settings]
max_batch = 32
"""
# 2 models x 2 systems x 2 budgets x 1 context x 2 latency floors x 1 fabric.
NUM_SCENARIOS = 16


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_grid_expands_to_every_combination(grid):
    specs, settings = load_grid(grid)
    assert len(specs) == NUM_SCENARIOS
    assert settings.max_batch == 32
    assert specs[0].label() == ("qwen3-30b-a3b | hgx-h200 | 1 rack | ctx 4096 | quant default | fabric default | agg "
                                "| latency none")
    assert specs[-1].label().startswith("llama-3.1-8b | mi355x-8 | 2 racks")


def test_one_and_two_processes_write_the_same_file(grid, tmp_path):
    specs, settings = load_grid(grid)
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    s1 = run_sweep(specs, settings, one, jobs=1)
    s2 = run_sweep(specs, settings, two, jobs=2)
    assert one.read_text() == two.read_text()  # byte for byte, sorted by scenario index
    rows = _rows(one)
    assert [int(r["index"]) for r in rows] == list(range(NUM_SCENARIOS))
    assert list(rows[0]) == list(FIELDS)
    # 5,000 tok/s per user is out of reach for every scenario: half the rows say so, none vanish.
    assert s1.counts == s2.counts == {"ok": 8, "infeasible": 8, "error": 0}
    assert all(r["reason"].startswith("latency:") for r in rows if r["status"] == "infeasible")
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["verified"] == "True" for r in ok)
    # Each row is the planner's plan: Tok/GPU x GPUs = Total TPS, to the printed precision.
    for r in ok:
        assert float(r["tok_per_gpu"]) * int(r["gpus"]) == pytest.approx(float(r["total_tps"]), rel=1e-12)


def test_jsonl_has_the_same_rows(grid, tmp_path):
    specs, settings = load_grid(grid)
    run_sweep(specs, settings, tmp_path / "a.csv", jobs=1)
    run_sweep(specs, settings, tmp_path / "a.jsonl", jobs=1)
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["index"] for r in records] == list(range(NUM_SCENARIOS))
    for rec, row in zip(records, _rows(tmp_path / "a.csv")):
        assert rec["scenario"] == row["scenario"]
        if rec["status"] == "ok":
            assert repr(rec["total_tps"]) == row["total_tps"]  # full precision in both formats


def test_interrupted_sweep_keeps_finished_rows_and_resume_completes_it(grid, tmp_path):
    specs, settings = load_grid(grid)
    full, part = tmp_path / "full.csv", tmp_path / "part.csv"
    run_sweep(specs, settings, full, jobs=1)

    def stop_after_five(done, total):
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(specs, settings, part, jobs=1, progress=stop_after_five)
    # The progress hook runs after a row is written and flushed: five rows survive the interruption.
    assert len(_rows(part)) == 5
    # A row torn mid-write (the process killed between two writes) is dropped and planned again.
    with open(part, "a") as fh:
        fh.write("5,qwen3-30b-a3b | hgx")
    summary = run_sweep(specs, settings, part, jobs=2, resume=True)
    assert (summary.skipped, summary.ran) == (5, NUM_SCENARIOS - 5)
    assert part.read_text() == full.read_text()
    again = run_sweep(specs, settings, part, jobs=1, resume=True)
    assert again.ran == 0  # nothing left to do


def test_resume_refuses_a_file_from_another_grid(grid, tmp_path):
    specs, settings = load_grid(grid)
    out = tmp_path / "out.csv"
    run_sweep(specs[:3], settings, out, jobs=1)
    with pytest.raises(InputError, match="the grid changed"):
        run_sweep(specs[1:], settings, out, jobs=1, resume=True)


@pytest.mark.parametrize("text,message", [
    ('models = ["a"\n', "malformed TOML"),
    ('modles = ["a"]\nsystems = ["hgx-h100"]\ntokens_cached = [1]\n', "unknown key 'modles'"),
    ('models = ["a"]\nsystems = ["hgx-h100"]\ntokens_cached = [1]\n[settings]\nmax_bach = 4\n',
     "unknown key 'settings.max_bach'"),
    ('models = ["a"]\ntokens_cached = [1]\n', "give 'systems'"),
    ('models = ["a"]\nsystems = ["hgx-h100"]\n', "give 'tokens_cached'"),
    ('models = ["a"]\nsystems = ["hgx-h100"]\ntokens_cached = ["many"]\n', "key 'tokens_cached.0'"),
    ('models = ["a"]\nsystems = ["hgx-h100"]\nworkloads = [{isl = 10}]\n', "isl and osl go together"),
])
def test_bad_grid_files_are_one_line_exit_1(tmp_path, capsys, text, message):
    path = tmp_path / "g.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "-o", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_cli_sweep_progress_and_summary(grid, tmp_path):
    out = tmp_path / "out.jsonl"
    result = RUN.invoke(cli, ["sweep", str(grid), "--output", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    err = result.stderr if hasattr(result, "stderr") else result.output
    # Not a terminal: one progress line per tenth, with count, rate and time left.
    assert f"[{'#' * 24}] {NUM_SCENARIOS}/{NUM_SCENARIOS} 100%" in err and "/s 0:00 left" in err
    assert f"{NUM_SCENARIOS} scenarios (" in err and "8 ok, 8 infeasible" in err
    assert len(out.read_text().splitlines()) == NUM_SCENARIOS
    bad = RUN.invoke(cli, ["sweep", str(grid), "--output", str(tmp_path / "out.txt")])
    assert bad.exit_code == 1 and "use .csv or .jsonl" in str(bad.exception)


def test_cli_sweep_quiet_drops_the_bar_and_keeps_the_summary(grid, tmp_path):
    out = tmp_path / "out.csv"
    result = RUN.invoke(cli, ["sweep", str(grid), "--output", str(out), "--jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    # --quiet (the other long commands' spelling of --no-progress): no bar, the one summary line remains.
    assert "[" not in result.stderr and result.stderr.count("\n") == 1
    assert f"{NUM_SCENARIOS} scenarios (" in result.stderr


def test_ctrl_c_on_a_real_sweep_keeps_every_finished_row(tmp_path):
    # A real SIGINT to a real `rackplan sweep` on two worker processes, then --resume.
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.replace("max_batch = 32", "max_batch = 512").replace("min_tok_per_user = [0, 5000]",
                                                                              "min_tok_per_user = [0, 10, 20, 30, 40]")
                    .replace('fabrics = ["default"]', 'fabrics = ["default", "400gbe"]'))
    total = 2 * 2 * 2 * 5 * 2  # models x systems x budgets x floors x fabrics
    out = tmp_path / "out.csv"
    # tests/rackplan_at_terminal.py: SIGINT handled as at a terminal even when this test run has it ignored.
    cmd = [sys.executable, str(root / "tests" / "rackplan_at_terminal.py"), "sweep", str(grid), "-o", str(out),
           "-j", "2"]
    env = {**os.environ, "PYTHONPATH": str(root)}  # this checkout's planner, as `-m` from the root ran it
    proc = subprocess.Popen(cmd, cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text().count("\n") > 5) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    text = out.read_text()
    kept = text.count("\n") - 1  # less the header
    assert proc.returncode == 1 and "rerun with --resume" in err
    assert 5 <= kept < total and text.endswith("\n")  # stopped part-way, every written row complete
    before = {line.split(",", 1)[0]: line for line in text.splitlines()[1:]}
    resumed = subprocess.run(cmd + ["--resume", "--no-progress"], cwd=root, env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total} scenarios ({kept} kept from" in resumed.stderr and f"{total - kept} planned" in resumed.stderr
    after = out.read_text().splitlines()[1:]
    assert [line.split(",", 1)[0] for line in after] == [str(i) for i in range(total)]
    # The rows written before the interruption are in the final file unchanged (kept, not re-planned).
    assert all(line in after for line in before.values())


def test_progress_line_arithmetic():
    from planner.report.tables import format_progress
    # 40 of 100 done in 4 s: 10/s, 60 left at 10/s = 6 s; 40 % of a 10-character bar is 4 marks.
    assert format_progress(40, 100, 4.0, width=10) == "[####------] 40/100  40% 10.0/s 0:06 left"
    # After a resume that kept 30 rows, only the 10 planned in 4 s count: 2.5/s, 60 left = 24 s.
    assert format_progress(40, 100, 4.0, ran=10, width=10) == "[####------] 40/100  40% 2.5/s 0:24 left"
    assert format_progress(0, 100, 0.0, width=10).endswith("0.0/s -:-- left")  # no rate yet


def test_rows_say_whether_measured_runs_back_them(tmp_path):
    # trtllm.toml measured contexts of 1,152-9,216 tokens: 4,096 cached lies inside, 16,384 outside; the
    # default engine records no range, so its rows leave both fields empty.
    path = tmp_path / "grid.toml"
    path.write_text('models = ["llama-3.1-8b"]\nsystems = ["hgx-h200"]\ngpu_budgets = [8]\n'
                    'tokens_cached = [4096, 16384]\n\n[settings]\nengine = "trtllm"\nmax_batch = 256\n')
    specs, settings = load_grid(path)
    run_sweep(specs, settings, tmp_path / "out.csv", jobs=1)
    rows = _rows(tmp_path / "out.csv")
    assert [(r["measured_range"], r["outside_measured_range"]) for r in rows] == [
        ("in", ""), ("out", "context 16,384 tokens outside the 1,152-9,216 (isl + osl) trtllm was measured at")]
    path.write_text(path.read_text().replace('engine = "trtllm"', 'engine = "default"'))
    specs, settings = load_grid(path)
    run_sweep(specs, settings, tmp_path / "default.csv", jobs=1)
    assert {(r["measured_range"], r["outside_measured_range"]) for r in _rows(tmp_path / "default.csv")} == {("", "")}
