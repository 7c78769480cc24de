"""The progress reporter of long commands: exact lines with a fake clock, silence off a terminal,
``--progress`` on stderr only (stdout byte-identical), ``--quiet`` winning."""

import io
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import planner
from planner.cli.main import cli
from planner.cli.progress import Reporter, progress_line
from planner.fleet.table import roles_of

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fleet.toml"

COMPARE = ["compare", "--model", "qwen3-30b-a3b", "--racks", "1,2"]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_line_eta_is_the_remaining_steps_at_the_mean_pace():
    # 3 of 24 in 5 s: 5 / 3 * 21 = 35 s left.
    assert progress_line("compare: scenario", 3, 24, 5.0) == "compare: scenario 3/24, 0:05 elapsed, ETA 0:35"
    # Nothing done yet: the pace is unknown.
    assert progress_line("fit", 0, 25, 0.0) == "fit 0/25, 0:00 elapsed, ETA -:--"
    # 1 of 3 in 61.5 s: 61.5 * 2 = 123 s left = 2:03; elapsed 61 s = 1:01.
    assert progress_line("fit", 1, 3, 61.5) == "fit 1/3, 1:01 elapsed, ETA 2:03"


def test_reporter_redraws_one_line_and_clears_it():
    clock, out = FakeClock(), io.StringIO()
    show = Reporter("compare: scenario", True, out, clock)
    show(0, 4)
    clock.now += 0.05  # under the 0.1 s redraw interval: skipped
    show(1, 4)
    clock.now += 1.95  # 2 s in: 2 / 2 * 2 = 2 s left
    show(2, 4)
    clock.now += 10.0  # the last step is always drawn, however soon
    show(4, 4)
    first = "compare: scenario 0/4, 0:00 elapsed, ETA -:--"
    second = "compare: scenario 2/4, 0:02 elapsed, ETA 0:02"
    last = "compare: scenario 4/4, 0:12 elapsed, ETA 0:00"
    assert out.getvalue() == "\r" + first + "\r" + second + "\r" + last
    show.clear()
    assert out.getvalue().endswith("\r" + " " * len(last) + "\r")
    show.clear()  # nothing drawn now: nothing written
    assert out.getvalue().endswith(last + "\r" + " " * len(last) + "\r")


def test_a_shorter_line_pads_over_the_longer_one():
    clock, out = FakeClock(), io.StringIO()
    show = Reporter("x", True, out, clock)
    clock.now += 605.0  # 10:05 elapsed
    show(1, 100)  # ETA 605 * 99 = 59,895 s = 998:15
    long = "x 1/100, 10:05 elapsed, ETA 998:15"
    clock.now += 1.0
    show(99, 100)  # ETA 606 / 99 * 1 = 6.1 s
    short = "x 99/100, 10:06 elapsed, ETA 0:06"
    assert len(short) < len(long)
    assert out.getvalue() == "\r" + long + "\r" + short.ljust(len(long))


def test_disabled_reporter_writes_nothing():
    out = io.StringIO()
    show = Reporter("x", False, out, FakeClock())
    show(1, 2)
    show.clear()
    assert out.getvalue() == ""


def test_compare_progress_goes_to_stderr_only_and_stdout_is_unchanged():
    runner = CliRunner()
    plain = runner.invoke(cli, COMPARE)
    forced = runner.invoke(cli, COMPARE + ["--progress"])
    quiet = runner.invoke(cli, COMPARE + ["--progress", "--quiet"])
    assert plain.exit_code == forced.exit_code == quiet.exit_code == 0
    # Not a terminal (the runner's stderr): nothing by default; --quiet wins over --progress.
    assert plain.stderr == "" and quiet.stderr == ""
    # Two scenarios: 0/2 before the first, then 1/2 and 2/2 (the last always drawn), then cleared.
    assert "compare: scenario 0/2" in forced.stderr and "\rcompare: scenario 2/2" in forced.stderr
    assert forced.stderr.endswith(" \r")
    assert forced.stdout_bytes == plain.stdout_bytes == quiet.stdout_bytes
    json_plain = runner.invoke(cli, COMPARE + ["--format", "json"])
    json_forced = runner.invoke(cli, COMPARE + ["--format", "json", "--progress"])
    assert json_forced.stdout_bytes == json_plain.stdout_bytes and json_forced.stderr


def test_frontier_counts_every_solve():
    calls = []
    planner.frontier(models=["qwen3-30b-a3b"], points=2, progress=lambda done, total: calls.append((done, total)))
    # One line of 2 points: the optimum, the fastest plan and 1 floor = 3 solves; 0/3 drawn first.
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_compare_library_reports_each_scenario():
    calls = []
    planner.compare(models=["qwen3-30b-a3b"], racks=[1, 2], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 2), (1, 2), (2, 2)]


def test_fleet_counts_each_table_then_the_solve():
    from hardware.catalogue import Catalogue
    from planner.fleet.optimise import plan_fleet
    from planner.fleet.spec import load
    fleet = load(str(EXAMPLE), Catalogue())
    calls = []
    plan_fleet(fleet, progress=lambda done, total: calls.append((done, total)))
    # One table per (model, hardware kind with GPUs, role) = 27 in examples/fleet.toml (checked against
    # planner.fleet.table.roles_of below), and the solve as step 28.
    tables = sum(len(roles_of(m)) for m in fleet.models for k in fleet.kinds if k.gpus)
    assert tables == 27
    assert calls == [(i, 28) for i in range(29)]


def test_fleet_cli_stdout_is_unchanged_by_progress():
    runner = CliRunner()
    # CSV: the rows alone (the table's header carries solve timings, which differ run to run).
    plain = runner.invoke(cli, ["fleet", str(EXAMPLE), "--format", "csv"])
    forced = runner.invoke(cli, ["fleet", str(EXAMPLE), "--format", "csv", "--progress"])
    assert plain.exit_code == forced.exit_code == 0
    assert plain.stderr == "" and "\rfleet: step 28/28" in forced.stderr
    assert forced.stdout_bytes == plain.stdout_bytes


def test_a_left_bar_ends_its_line_and_is_not_cleared():
    # The sweep's bar (leave=True): the last line stays, ended by a newline; clear then writes nothing.
    clock, out = FakeClock(), io.StringIO()
    show = Reporter("sweep", True, out, clock, line=lambda what, d, t, e: f"{what} {d}/{t} {e:.0f} s", leave=True)
    show(0, 2)
    clock.now += 1.0
    show(2, 2)
    assert out.getvalue() == "\rsweep 0/2 0 s\rsweep 2/2 1 s\n"
    show.clear()
    assert out.getvalue() == "\rsweep 0/2 0 s\rsweep 2/2 1 s\n"


def test_the_bar_is_drawn_whatever_the_screen_size(monkeypatch):
    # tqdm hides a bar below a screen's last row; a terminal of unknown size reads as -1 rows. The
    # reporter draws one line and does not ask the screen, so the line shows.
    import tqdm.std
    monkeypatch.setattr(tqdm.std, "_screen_shape_wrapper", lambda: lambda fp: (-1, -1))
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)  # tqdm asks the screen's size of stderr and stdout only
    show = Reporter("x", True, clock=FakeClock())
    show(0, 2)
    assert out.getvalue() == "\rx 0/2, 0:00 elapsed, ETA -:--"


def test_tqdm_is_imported_only_when_a_line_is_drawn():
    # A command's progress is off when stderr is not a terminal (a pipe, a test, a benchmark): tqdm and what it
    # imports (~3 ms of a fleet command) load when the first line is drawn, not with the command's options.
    probe = ("import io, sys; from planner.cli.progress import Reporter\n"
             "off = Reporter('x', enabled=False); off(1, 2); off.clear(); print('tqdm' in sys.modules)\n"
             "on = Reporter('x', enabled=True, stream=io.StringIO()); on(1, 2); on.clear()\n"
             "print('tqdm' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
