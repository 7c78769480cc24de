"""``sweep --resume`` onto damaged results, and a sweep killed mid-run then resumed.

Issue 16 (6): a bad index, an empty row, a JSON array line or ``"index": null`` raised
ValueError/IndexError/TypeError. Now every damaged line is dropped and counted, its scenario runs
again, and the finished file is byte for byte the file of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import refused

from planner.studies.sweep import load_grid, run_sweep

GRID = """models = ["llama-3.1-8b"]
systems = ["hgx-h200"]
racks = [1]
tokens_cached = [1024, 2048]
min_tok_per_user = [0, 5000]

[settings]
max_batch = 8
"""
NUM_SCENARIOS = 4  # 1 model x 1 system x 1 budget x 2 contexts x 2 floors


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run's file, per format."""
    base = tmp_path_factory.mktemp("reference")
    (base / "grid.toml").write_text(GRID)
    specs, settings = load_grid(base / "grid.toml")
    out = {}
    for fmt in ("csv", "jsonl"):
        run_sweep(specs, settings, base / f"out.{fmt}", jobs=1)
        out[fmt] = (base / f"out.{fmt}").read_text()
    return out


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# name, format, how to damage the reference file (its lines -> new text), damaged lines to count
DAMAGE = [
    ("csv bad index", "csv", lambda ls: ls[0] + "x" + ls[1][1:] + "".join(ls[2:]), 1),
    ("csv empty row", "csv", lambda ls: ls[0] + "\n" + "".join(ls[1:]), 1),
    ("csv short row", "csv", lambda ls: ls[0] + "0,1,2\n" + "".join(ls[2:]), 1),
    ("csv torn last line", "csv", lambda ls: "".join(ls[:-1]) + ls[-1][:20], 1),
    ("csv not UTF-8", "csv", lambda ls: ls[0] + "\udcff" + "".join(ls[2:]), 1),
    ("jsonl array line", "jsonl", lambda ls: "[1, 2]\n" + "".join(ls[1:]), 1),
    ("jsonl index null", "jsonl", lambda ls: ls[0].replace('"index": 0', '"index": null') + "".join(ls[1:]), 1),
    ("jsonl index text", "jsonl", lambda ls: ls[0].replace('"index": 0', '"index": "zero"') + "".join(ls[1:]), 1),
    ("jsonl empty object", "jsonl", lambda ls: "{}\n" + "".join(ls[1:]), 1),
    ("jsonl null line", "jsonl", lambda ls: "null\n" + "".join(ls[1:]), 1),
    ("jsonl blank lines", "jsonl", lambda ls: "\n\n" + "".join(ls), 2),
    ("jsonl torn last line", "jsonl", lambda ls: "".join(ls[:-1]) + ls[-1][:30], 1),
    ("jsonl garbage", "jsonl", lambda ls: "".join(ls[:2]) + "}{not json\n" + "".join(ls[2:]), 1),
    ("jsonl two rows lost", "jsonl", lambda ls: ls[0] + ls[3], 0),
]


@pytest.mark.parametrize("fmt,damage,count", [(f, d, c) for _, f, d, c in DAMAGE], ids=[n for n, *_ in DAMAGE])
def test_resume_drops_and_counts_damaged_lines(rackplan, tmp_path, reference, fmt, damage, count):
    (tmp_path / "grid.toml").write_text(GRID)
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(damage(_lines(reference[fmt])).encode("utf-8", "surrogateescape"))
    done = rackplan("sweep", "grid.toml", "-o", out.name, "--resume", "--jobs", "1", "--no-progress")
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    assert out.read_text() == reference[fmt]  # every scenario once, in order, as an uninterrupted run wrote it
    assert (f"{count} damaged lines dropped" in done.err) == (count > 0), done.err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_refuses_rows_of_another_grid(rackplan, tmp_path, reference, fmt):
    (tmp_path / "grid.toml").write_text(GRID.replace("[1024, 2048]", "[1024, 4096]"))
    out = tmp_path / f"out.{fmt}"
    out.write_text(reference[fmt])
    refused(rackplan("sweep", "grid.toml", "-o", out.name, "--resume", "--no-progress"), 1, out.name, "grid changed")
    assert out.read_text() == reference[fmt]  # refused: the file is untouched


def test_every_scenario_failing_exits_1_with_the_rows_written(rackplan, tmp_path):
    # 5,000,000 tokens/s per user is out of reach of every layout: every row is infeasible, with its reason.
    (tmp_path / "grid.toml").write_text(GRID.replace("[0, 5000]", "[5000000]"))
    done = rackplan("sweep", "grid.toml", "-o", "out.csv", "--jobs", "1", "--no-progress")
    assert done.code == 1
    assert done.err.splitlines()[-1].startswith("error: every scenario failed (2 infeasible)")
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 and all(',infeasible,"latency: ' in r for r in rows[1:])


KILL_GRID = GRID.replace("tokens_cached = [1024, 2048]", "tokens_cached = [512, 1024, 2048, 4096]").replace(
    "racks = [1]", "racks = [1, 2]")
KILL_SCENARIOS = 16  # 2 budgets x 4 contexts x 2 floors


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_sweep_resumes_to_the_uninterrupted_rows(tmp_path, sig):
    (tmp_path / "grid.toml").write_text(KILL_GRID)
    specs, settings = load_grid(tmp_path / "grid.toml")
    run_sweep(specs, settings, tmp_path / "whole.csv", jobs=1)
    # tests/rackplan_at_terminal.py: SIGINT handled as at a terminal even when this test run has it ignored.
    cmd = [sys.executable, str(Path(__file__).resolve().parents[1] / "rackplan_at_terminal.py"), "sweep", "grid.toml",
           "-o", "cut.csv", "--jobs", "1", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cut = tmp_path / "cut.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not cut.exists() or len(cut.read_text().splitlines()) < 1 + 3):
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    kept = cut.read_text().splitlines()
    assert 1 + 3 <= len(kept) < 1 + KILL_SCENARIOS  # interrupted mid-run, with finished rows on disk
    assert b"Traceback" not in err
    resumed = subprocess.run([*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert cut.read_text() == (tmp_path / "whole.csv").read_text()  # exactly the rows of the uninterrupted run
