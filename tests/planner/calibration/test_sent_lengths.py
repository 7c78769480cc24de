"""InferenceX runs at the mean lengths their benchmark sent (measurements.read's sent_lengths), on request only."""

from collections import Counter
from pathlib import Path

from planner.calibration import measurements
from planner.calibration.measurements import INFERENCEX_RANGE_RATIO, sent_length

SHIPPED = Path(__file__).resolve().parents[3] / "calibration" / "silicon_calibration.csv"


def test_mean_of_the_lengths_drawn():
    # Whole numbers uniform on floor(0.8 L) .. L: 819 .. 1,024 average 921.5 (half to even: 922); 6,553 .. 8,192
    # average 7,372.5 (7,372); 1,638 .. 2,048 average 1,843; a ratio of 1 draws the stated length only.
    assert INFERENCEX_RANGE_RATIO == 0.8
    assert [sent_length(n, 0.8) for n in (1024, 8192, 2048)] == [922, 7372, 1843]
    assert sent_length(1024, 1.0) == 1024


def test_inferencex_rows_read_the_lengths_sent_on_request(silicon_file):
    # The results database's rows (db-dump/) and its dated exports (source_file=YYYY-MM-DD.csv) are InferenceX runs:
    # with sent_lengths, 1,024 in / 8,192 out reads 922 / 7,372; a collection's file (source_file=/path/...) and a
    # row without a provenance read as stated; without it, every row reads as stated.
    path = silicon_file([
        "a,db-dump/2026-04-27; config_id=88; silicon_concurrency=8,sglang,deepseek-ai/DeepSeek-V3,b200_sxm",
        "b,source_file=2026-04-06.csv; model=GPT-OSS-120B; silicon_concurrency=8,vllm,openai/gpt-oss-120b,h200_sxm",
        "c,source_file=/data/h200_sxm/vllm/0.12.0/llama.csv; silicon_concurrency=8,vllm,meta-llama/Llama-3.1-8B,"
        "h200_sxm",
        "d,,vllm,meta-llama/Llama-3.1-8B,h200_sxm"], ",agg,1024,8192,fp8,fp8,8,8,1,,,,300,10")
    sent = [(m.isl, m.osl) for m in measurements.read(path, sent_lengths=True).rows]
    assert sent == [(922, 7372), (922, 7372), (1024, 8192), (1024, 8192)]
    assert {(m.isl, m.osl) for m in measurements.read(path).rows} == {(1024, 8192)}


def test_shipped_file_lengths_sent():
    # calibration/silicon_calibration.csv reads 1,291 aggregated runs (1,314 less the 23 of ambiguous concurrency): its
    # 685 InferenceX runs (every DeepSeek-V3 and gpt-oss-120b run: 255 and 430), all stated at 1,024 or 8,192 tokens
    # in and out, read 922 or 7,372 as sent; none of the 606 others (the Llama-3.1-8B, Qwen3-32B, DeepSeek-V3.1 and
    # gpt-oss-120b collections) reads either.
    rows = measurements.read(SHIPPED, sent_lengths=True).rows
    sent = [m for m in rows if m.isl in (922, 7372)]
    assert (len(rows), len(sent)) == (1291, 685)
    assert all(m.osl in (922, 7372) for m in sent)
    assert Counter(m.model for m in sent) == {"openai/gpt-oss-120b": 430, "deepseek-ai/DeepSeek-V3": 255}
    assert not any(m.osl in (922, 7372) for m in rows if m.isl not in (922, 7372))
