"""Every plan says how far its engine's predictions missed on model families their fit never saw."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.engine.profile import DISAGG_DECODE, OUT_OF_FAMILY, EngineProfile, engine
from planner.report.plan_report import accuracy_text
from specbase.checks import FieldError

ROOT = Path(__file__).resolve().parents[3]
ISL_OSL = ["plan", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8", "--isl", "1024", "--osl", "1024",
           "--engine", "trtllm", "--top", "1"]


def test_a_plan_with_prompts_quotes_both_figures():
    # trtllm.toml, from `python bench/accuracy.py --lofo --jobs 2`: its 610 rows out of fold, TPOT MAPE 12.2 %
    # (P90 26 %), TTFT MAPE 27.4 % (P90 66 %); the line rounds to whole percent.
    out = CliRunner().invoke(cli, ISL_OSL, obj={})
    assert out.exit_code == 0, out.output
    assert ("accuracy: on model families its fit never saw, engine trtllm's TPOT missed by 12 % on average, 9 runs "
            "in 10 by under 26 %; TTFT by 27 %, 9 in 10 by under 66 % (bench/accuracy.py --lofo)") in out.output
    doc = json.loads(CliRunner().invoke(cli, [*ISL_OSL, "--format", "json"], obj={}).output)
    assert doc["scenario"]["out_of_family_error_pct"] == {"tpot_mape": 12.2, "tpot_p90": 26.0, "ttft_mape": 27.4,
                                                          "ttft_p90": 66.0}


def test_steady_decode_quotes_tpot_alone():
    # The default scenario (tokens cached, no prompts): default.toml's TPOT figures, 13.1 % (P90 26 %), and no
    # TTFT, which the workload does not have.
    out = CliRunner().invoke(cli, ["plan", "--top", "1"], obj={})
    assert ("accuracy: on model families its fit never saw, engine default's TPOT missed by 13 % on average, 9 runs "
            "in 10 by under 26 % (bench/accuracy.py --lofo)\n") in out.output
    doc = json.loads(CliRunner().invoke(cli, ["plan", "--top", "1", "--format", "json"], obj={}).output)
    assert doc["scenario"]["out_of_family_error_pct"] == {"tpot_mape": 13.1, "tpot_p90": 26.0}


def test_a_profile_that_records_none_says_so(tmp_path):
    # A profile file of one's own (as rackplan calibrate writes) carries no out-of-family figures.
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nsource = "a test"\n')
    out = CliRunner().invoke(cli, ["plan", "--profile", str(path), "--top", "1"], obj={})
    assert out.exit_code == 0, out.output
    assert ("accuracy: engine mine records no error measured on model families its fit never saw (the shipped "
            "profiles do: rackplan show engine trtllm)") in out.output


def test_evaluate_lists_the_figures():
    # vllm.toml: TPOT 11.1 % (P90 21 %), TTFT 14.0 % (P90 27 %), one field each on the page.
    out = CliRunner().invoke(cli, ["evaluate", "--model", "llama-3.1-70b", "--system", "hgx-h200", "--tp", "4",
                                   "--batch", "64", "--quant", "fp8", "--isl", "2048", "--osl", "512", "--engine",
                                   "vllm"], obj={})
    assert out.exit_code == 0, out.output
    fields = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.output.splitlines()
                  if line.startswith("out_of_family_error"))
    assert fields == {"out_of_family_error.tpot_mape (%)": "11.1", "out_of_family_error.tpot_p90 (%)": "21.0",
                      "out_of_family_error.ttft_mape (%)": "14.0", "out_of_family_error.ttft_p90 (%)": "27.0"}


def test_only_the_figures_recorded_are_quoted():
    # A MAPE without its P90 is quoted without the "9 in 10" clause.
    sc = {"engine": "x", "out_of_family_error_pct": {"tpot_mape": 8.04, "ttft_mape": 19.6, "ttft_p90": 40.0}}
    assert accuracy_text(sc) == ("accuracy: on model families its fit never saw, engine x's TPOT missed by 8 % on "
                                 "average; TTFT by 20 %, 9 in 10 by under 40 % (bench/accuracy.py --lofo)")


# a percentage error is at least 0; 1,000 % (a prediction 11x the measurement) bounds a plausible one
@pytest.mark.parametrize("value, message", [(-0.5, "must be >= 0 (got -0.5)"),
                                            (1000.5, "must be <= 1000 (got 1000.5)")])
def test_a_figure_out_of_range_names_the_field(value, message):
    # the out-of-family figures, and the decode-pool ones a disaggregated plan quotes (test_disagg_accuracy_line.py)
    fields = [*(f"out_of_family_{f}_pct" for f in OUT_OF_FAMILY), *(f"disagg_decode_{f}_pct" for f in DISAGG_DECODE)]
    for field in fields:
        with pytest.raises(FieldError) as caught:
            EngineProfile(name="x", source="a test", **{field: value})
        assert str(caught.value) == f"field '{field}' {message}"


def test_the_profiles_quote_the_table_in_the_docs():
    # docs/accuracy.md, "The error beside every plan": the per-engine table `bench/accuracy.py --lofo` printed;
    # every shipped profile carries its line's four figures, so the two cannot drift apart.
    text = (ROOT / "docs" / "accuracy.md").read_text()
    section = text[text.index("### The error beside every plan"):]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0].split(" ")[0] in ("trtllm", "vllm", "sglang", "default"):
            rows[cells[0].split(" ")[0]] = tuple(float(c) for c in cells[2:6])
    assert set(rows) == {"trtllm", "vllm", "sglang", "default"}
    for name, (tpot_mape, tpot_p90, ttft_mape, ttft_p90) in rows.items():
        assert engine(name).out_of_family_error() == {"tpot_mape": tpot_mape, "tpot_p90": tpot_p90,
                                                      "ttft_mape": ttft_mape, "ttft_p90": ttft_p90}, name
