"""The plan report: default latency limits for isl/osl, a table within 120 columns, --columns/--wide, why."""

import json

import pytest
from click.testing import CliRunner

from planner.cli.main import cli, main

RUN = CliRunner()


def _run(args):
    result = RUN.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _table_width(text):
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("#"))
    end = lines.index("", start)
    return max(len(ln) for ln in lines[start:end])


def test_isl_osl_plans_meet_the_default_limits_and_say_so():
    doc = json.loads(_run(["plan", "--isl", "4096", "--osl", "1024", "--format", "json"]))
    lim = doc["scenario"]["limits"]
    # MLPerf Inference v5.1 server scenario: TPOT <= 80 ms (12.5 tok/s per user), TTFT <= 2 s.
    assert (lim["max_tpot_s"], lim["max_ttft_s"]) == (0.08, 2.0)
    assert lim["defaults"] == {"applied": ["tpot", "ttft"], "source": "MLPerf Inference v5.1 server scenario"}
    for row in [doc, *doc["alternatives"]]:
        assert row["tpot_s"] <= 0.08 and row["tok_per_user"] >= 12.5 and row["ttft_s"] <= 2.0
    assert {"binding", "runner_up", "what_would_move_it"} <= set(doc["explanation"])
    text = _run(["plan", "--isl", "4096", "--osl", "1024", "--top", "2"])
    assert ("limits: TPOT <= 80.0 ms (>= 12.5 tok/s per user), TTFT <= 2,000 ms (TPOT and TTFT: isl/osl default, "
            "MLPerf Inference v5.1 server scenario; change with --min-tok-per-user, --max-tpot-ms, --max-ttft-ms; "
            "0 lifts one)") in text
    assert "why this plan:\n  binding: GPU budget: 72 of 72 GPUs in use\n" in text


def test_zero_lifts_a_default_and_a_given_limit_replaces_it():
    free = json.loads(_run(["plan", "--isl", "4096", "--osl", "1024", "--top", "1", "--min-tok-per-user", "0",
                            "--max-ttft-ms", "0", "--format", "json"]))
    assert free["scenario"]["limits"] == {"max_tpot_s": None, "max_ttft_s": None, "defaults": None, "margin": None}
    # Without limits the optimum is the 3.5 s TTFT, 24 tok/s per user plan the defaults rule out.
    assert free["ttft_s"] > 2.0
    given = json.loads(_run(["plan", "--isl", "4096", "--osl", "1024", "--top", "1", "--max-tpot-ms", "30",
                             "--format", "json"]))
    lim = given["scenario"]["limits"]
    assert (lim["max_tpot_s"], lim["max_ttft_s"]) == (0.03, 2.0)
    assert lim["defaults"]["applied"] == ["ttft"]


def test_steady_state_header_gives_tokens_per_user_and_no_default_limits():
    text = _run(["plan", "--top", "1"])
    doc = json.loads(_run(["plan", "--top", "1", "--format", "json"]))
    assert doc["scenario"]["limits"]["defaults"] is None
    # 72 GB200 = 18 servers of 4 in one full rack, 72 x 1,200 W = 86.4 kW.
    assert (f"answer: {doc['total_tps']:,.0f} tok/s on 72 GPUs ({doc['tok_per_gpu']:,.0f} per GPU), "
            f"{doc['tok_per_user']:,.1f} tok/s per user; 18 servers in 1 rack, 86.4 kW board power\n") in text


@pytest.mark.parametrize("args", [[], ["--isl", "4096", "--osl", "1024"], ["--system", "hgx-h200"]])
def test_the_default_table_fits_120_columns(args):
    assert _table_width(_run(["plan", *args])) <= 120


def test_columns_choose_and_wide_shows_all():
    text = _run(["plan", "--top", "2", "--columns", "layout,total_tps,tpot"])
    table = text.split("\n\n")[1].splitlines()
    assert table[0].split() == ["TPxPPxEPxDP", "tok/s", "TPOT", "ms"]
    assert len(table) == 4  # header, rule, two plans
    wide = _run(["plan", "--top", "1", "--wide"])
    header = next(ln for ln in wide.splitlines() if ln.startswith("#"))
    for name in ("inst tok/s", "comp tok/s/GPU", "inter-rack GB/s", "kW", "TPOT ms"):
        assert name in header
    assert _table_width(wide) > 120


def test_an_unknown_column_is_one_line_naming_the_choices(capfd):
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--columns", "layout,speed"])
    assert exit_info.value.code == 1
    err = capfd.readouterr().err.strip()
    assert err.startswith("error: --columns: unknown column 'speed'; choose from rank, layout, batch,")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
