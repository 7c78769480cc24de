"""A disaggregated plan says how far its engine's decode-only instance missed the measured decode pools."""

import json
from pathlib import Path

from click.testing import CliRunner

from planner.cli.main import cli
from planner.engine.profile import engine
from planner.report.tables import decode_accuracy_text, fleet_header

ROOT = Path(__file__).resolve().parents[3]
DISAGG = ["plan", "--disagg", "--model", "qwen3-235b-a22b", "--system", "gb200-nvl72", "--racks", "1", "--isl", "4096",
          "--osl", "1024", "--max-tpot-ms", "50", "--max-ttft-ms", "2000"]


def test_a_disaggregated_plan_quotes_its_engines_decode_pool_error():
    # sglang.toml, from `python bench/accuracy.py`: its 97 decode pools, TPOT MAPE 14.3 % (P90 28 %); whole percent.
    out = CliRunner().invoke(cli, [*DISAGG, "--engine", "sglang"], obj={})
    assert out.exit_code == 0, out.output
    assert ("accuracy: on the decode pools of measured disaggregated runs, which no fit saw, engine sglang's TPOT "
            "missed by 14 % on average, 9 runs in 10 by under 28 %; prefill pools and TTFT not scored "
            "(bench/accuracy.py)\n") in out.output
    doc = json.loads(CliRunner().invoke(cli, [*DISAGG, "--engine", "sglang", "--format", "json"], obj={}).output)
    assert doc["disagg_decode_error_pct"] == {"tpot_mape": 14.3, "tpot_p90": 28.0}


def test_an_engine_without_measured_pools_says_so():
    # The calibration file has no disaggregated vLLM run with a decode layout: vllm.toml records none.
    out = CliRunner().invoke(cli, [*DISAGG, "--engine", "vllm"], obj={})
    assert out.exit_code == 0, out.output
    assert ("accuracy: engine vllm records no error measured on the decode pools of disaggregated runs (the shipped "
            "trtllm and sglang profiles do: rackplan show engine sglang)") in out.output


def test_only_a_fleet_with_decode_pools_quotes_it():
    # examples/fleet.toml lets each model be served either way and runs decode pools: the default profile's figures,
    # every pool under it, 22.2 % (P90 48 %). The same plan with every pool aggregated has no decode-pool line.
    doc = json.loads(CliRunner().invoke(cli, ["fleet", str(ROOT / "examples" / "fleet.toml"), "--format", "json"],
                                        obj={}).output)
    assert any(p["role"] == "decode" for p in doc["pools"])
    assert fleet_header(doc)[-1] == (
        "accuracy: on the decode pools of measured disaggregated runs, which no fit saw, engine default's TPOT missed "
        "by 22 % on average, 9 runs in 10 by under 48 %; prefill pools and TTFT not scored (bench/accuracy.py)")
    aggregated = {**doc, "pools": [{**p, "role": "aggregated"} for p in doc["pools"]]}
    assert not [line for line in fleet_header(aggregated) if line.startswith("accuracy:")]
    assert decode_accuracy_text({"engine": "x", "disagg_decode_error_pct": {"tpot_mape": 8.4}}) == (
        "accuracy: on the decode pools of measured disaggregated runs, which no fit saw, engine x's TPOT missed by "
        "8 % on average; prefill pools and TTFT not scored (bench/accuracy.py)")


def test_the_profiles_quote_the_table_in_the_docs():
    # docs/accuracy.md quotes `python bench/accuracy.py`, whose decode-pool table has one line per engine and one of
    # every pool under the default profile: each shipped profile carries its line's MAPE and P90.
    text = (ROOT / "docs" / "accuracy.md").read_text()
    rows = {}
    for line in text[text.index("decode pools, TPOT, never fitted"):].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0].startswith("**engine ") or cells[0] == "**all, under the default profile**":
            name = cells[0].strip("*").split(" ")[1] if cells[0].startswith("**engine ") else "default"
            rows.setdefault(name, (float(cells[3]), float(cells[5])))
    assert set(rows) == {"trtllm", "sglang", "default"}
    for name, (mape, p90) in rows.items():
        assert engine(name).disagg_decode_error() == {"tpot_mape": mape, "tpot_p90": p90}, name
    assert engine("vllm").disagg_decode_error() is None
