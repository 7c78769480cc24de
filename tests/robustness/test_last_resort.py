"""The last-resort handler of ``planner.cli.main``: a bug is one line and exit 70, the traceback only on request.

No case of the corpus reaches it (``hostile.refused`` asserts so for every case); here a bug is
planted to show what a user would see.
"""

from __future__ import annotations

import pytest

import planner
from planner.cli.main import EXIT_INTERNAL, main


@pytest.fixture
def bug(monkeypatch):
    def broken(**options):
        raise ZeroDivisionError("float division by zero\nsecond line")

    monkeypatch.setattr(planner, "plan", broken)


def test_a_bug_is_one_line_and_exit_70(rackplan, bug):
    done = rackplan("plan")
    assert done.code == EXIT_INTERNAL == 70  # EX_SOFTWARE of sysexits.h
    assert done.err == ("internal error: ZeroDivisionError: float division by zero\\nsecond line; "
                        "rerun with --debug for the traceback\n")


def test_debug_shows_the_traceback(bug):
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "plan"])


def test_plot_name_is_checked_before_the_frontier_is_planned(rackplan, bug, monkeypatch):
    def never(**options):
        raise AssertionError("planned before the --plot name was checked")

    monkeypatch.setattr(planner, "frontier", never)
    done = rackplan("frontier", "--plot", "chart.pdf")
    assert (done.code, done.err) == (1, "error: --plot: use a .png or .svg file name (got 'chart.pdf')\n")


def test_exit_codes_are_in_the_help(rackplan):
    text = " ".join(rackplan("--help").out.split())
    assert "Exit codes: 0 success; 1 bad input" in text and "2 usage error" in text and "70 internal error" in text
