"""InferenceX runs measured before its client warmed the server up: their TTFT is neither fitted nor scored."""

import json
from collections import Counter
from pathlib import Path

import numpy as np

from planner.calibration import measurements
from planner.calibration.fit import measured
from planner.calibration.measurements import INFERENCEX_WARMUP_FROM
from planner.calibration.screen import saturated

SHIPPED = Path(__file__).resolve().parents[3] / "calibration" / "silicon_calibration.csv"


def test_runs_before_the_warm_up_have_a_cold_ttft(silicon_file):
    # InferenceX PR #480 (merged 2026-01-21) sent 2 x concurrency warm-up requests before the timed ones. A results
    # database row (db-dump/) or dated export row (source_file=YYYY-MM-DD.csv) measured before that day is cold; one
    # measured that day or later is not, nor a row without a measured= date, nor another collection's row whatever
    # its date.
    assert INFERENCEX_WARMUP_FROM == "2026-01-21"
    path = silicon_file([
        "a,db-dump/2026-04-27; config_id=88; silicon_concurrency=8; measured=2025-11-10T00:00:00.000Z,sglang,"
        "deepseek-ai/DeepSeek-V3,b200_sxm",
        "b,db-dump/2026-04-27; config_id=87; silicon_concurrency=8; measured=2026-01-21T00:00:00.000Z,sglang,"
        "deepseek-ai/DeepSeek-V3,b200_sxm",
        "c,source_file=2026-04-06.csv; model=GPT-OSS-120B; silicon_concurrency=8; measured=2025-12-08T00:00:00Z,vllm,"
        "openai/gpt-oss-120b,h200_sxm",
        "d,source_file=2026-04-06.csv; model=GPT-OSS-120B; silicon_concurrency=8,vllm,openai/gpt-oss-120b,h200_sxm",
        "e,source_file=/data/h200_sxm/vllm/0.12.0/llama.csv; silicon_concurrency=8; measured=2025-11-10,vllm,"
        "meta-llama/Llama-3.1-8B,h200_sxm"], ",agg,1024,1024,fp8,fp8,8,8,1,,,,300,10")
    rows = measurements.read(path).rows
    assert [m.cold_ttft for m in rows] == [True, False, True, False, False]
    # the measured TTFT stays on the row (the screens read it); the fit and the scores see none where it is cold,
    # unless asked for it
    assert all(m.ttft_s == 0.3 for m in rows)
    ttft = measured(list(rows)).ttft_s
    assert np.isnan(ttft[[0, 2]]).all() and (ttft[[1, 3, 4]] == 0.3).all()
    assert (measured(list(rows), cold_ttft=True).ttft_s == 0.3).all()


def test_shipped_file_cold_runs():
    # calibration/silicon_calibration.csv: of its 685 aggregated InferenceX runs, the 285 measured from November
    # 2025 to 2026-01-07 are cold (167 gpt-oss-120b, 118 DeepSeek-V3; 204 under TensorRT-LLM, 51 SGLang, 30 vLLM; no
    # run falls on 2026-01-21 itself, the next are of 2026-01-23); none of the 606 other collections' runs is. A
    # saturated run stays saturated (its measured TTFT kept).
    rows = measurements.read(SHIPPED).rows
    cold = [m for m in rows if m.cold_ttft]
    assert (len(rows), len(cold)) == (1291, 285)
    assert Counter(m.model for m in cold) == {"openai/gpt-oss-120b": 167, "deepseek-ai/DeepSeek-V3": 118}
    assert Counter(m.engine for m in cold) == {"trtllm": 204, "sglang": 51, "vllm": 30}
    assert any(saturated(m) for m in cold)


def test_calibrate_says_which_ttfts_it_left_out(silicon_file, tmp_path):
    # rackplan calibrate on three gpt-oss-120b / H200 / vLLM runs, one measured before the warm-up: its TTFT is
    # neither fitted nor scored (the report's TTFT row counts 2), its TPOT is (3), and the report says so.
    from click.testing import CliRunner

    from planner.cli.main import cli

    path = silicon_file([
        "a,source_file=2026-04-06.csv; silicon_concurrency=16; measured=2025-12-05T00:00:00Z,vllm,"
        "openai/gpt-oss-120b,h200_sxm,agg,1024,1024,nvfp4,nvfp4,16,2,1,1,,,95,8.5",
        "b,source_file=2026-04-06.csv; silicon_concurrency=16; measured=2026-03-27T00:00:00Z,vllm,"
        "openai/gpt-oss-120b,h200_sxm,agg,1024,1024,nvfp4,nvfp4,16,2,1,1,,,90,8",
        "c,source_file=2026-04-06.csv; silicon_concurrency=32; measured=2026-03-27T00:00:00Z,vllm,"
        "openai/gpt-oss-120b,h200_sxm,agg,1024,1024,nvfp4,nvfp4,32,2,1,1,,,120,10"], "")
    out = tmp_path / "mine.toml"
    args = ["calibrate", str(path), "--engine", "vllm", "--output", str(out)]
    doc = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"], obj={}).output)
    assert doc["rows_used"] == 3 and doc["cold_ttfts"] == 1
    assert doc["after"]["tpot"]["n"] == 3 and doc["after"]["ttft"]["n"] == 2
    text = CliRunner().invoke(cli, args, obj={}).output
    assert ("TTFTs not used: 1 measured before their benchmark client warmed the server up (InferenceX runs before "
            "2026-01-21: the first wave's cold start; their TPOT is used)") in text
