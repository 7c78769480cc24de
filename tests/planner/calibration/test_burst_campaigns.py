"""Campaigns that sent each run's requests as one burst (``measurements.BURST_CAMPAIGNS``) are predicted as one:
``Workload.arrivals = 'burst'`` in their scenario (``planner.calibration.fit.scenario_groups``)."""

from collections import Counter
from pathlib import Path

from hardware.catalogue import Catalogue
from planner.calibration import measurements, screen
from planner.calibration.fit import scenario_groups
from planner.engine.profile import engine

SHIPPED = Path(__file__).resolve().parents[3] / "calibration" / "silicon_calibration.csv"
QWEN3_SGLANG = "/data/h100_sxm/sglang/0.5.1.post1/Qwen_Qwen3-32B.csv"


def test_a_burst_campaign_is_read_as_one_by_its_source_file(silicon_file):
    # the Qwen3-32B / H100 / SGLang 0.5.1 file of the collection (wherever its path starts) is a burst; the same
    # collection's TensorRT-LLM file and another SGLang version's file are not, nor a run with no source file
    assert QWEN3_SGLANG in measurements.BURST_CAMPAIGNS
    path = silicon_file([
        f"a,source_file=/Users/x/aic/data{QWEN3_SGLANG.removeprefix('/data')}; silicon_concurrency=16,sglang,"
        "Qwen/Qwen3-32B,h100_sxm",
        "b,source_file=/Users/x/aic/data/h100_sxm/trtllm/1.0.0rc3/Qwen_Qwen3-32B.csv; silicon_concurrency=16,trtllm,"
        "Qwen/Qwen3-32B,h100_sxm",
        "c,source_file=/Users/x/aic/data/h100_sxm/sglang/0.5.6/Qwen_Qwen3-32B.csv; silicon_concurrency=16,sglang,"
        "Qwen/Qwen3-32B,h100_sxm",
        "d,silicon_concurrency=16,sglang,Qwen/Qwen3-32B,h100_sxm"], ",agg,1024,128,,,16,2,1,,1,1,840.8,16.5")
    rows = measurements.read(path).rows
    assert [m.burst for m in rows] == [True, False, False, False]
    # resolved and grouped for the evaluator: the burst run's scenario is a burst, the others' steady, though every
    # other field of the four is the same
    mset, hardware = screen.resolve(measurements.MeasurementSet(str(path), "silicon", rows, {}), Catalogue())
    groups = list(scenario_groups(list(mset.rows), hardware, [engine("sglang")] * len(mset.rows)))
    arrivals = {sc.workload.arrivals: [mset.rows[i].label for i in idx] for sc, idx, _ in groups}
    assert arrivals == {"burst": ["a"], "steady": ["b", "c", "d"]}


def test_shipped_burst_campaign():
    # calibration/silicon_calibration.csv: the one burst campaign's 78 aggregated runs, all Qwen3-32B on H100 under
    # SGLang 0.5.1.post1 (none saturated: bench/accuracy.py scores the 78); no other run is a burst
    rows = measurements.read(SHIPPED).rows
    burst = [m for m in rows if m.burst]
    assert Counter((m.model, m.engine, m.system) for m in burst) == {("Qwen/Qwen3-32B", "sglang", "hgx-h100"): 78}


def test_the_simple_format_says_burst_in_its_arrivals_column(tmp_path):
    # rackplan calibrate's simple CSV: an optional arrivals column, steady when empty or absent; any other word
    # counts the line out with its reason, the rest of the file read
    path = tmp_path / "runs.csv"
    path.write_text("model,gpu,engine,tp,batch,isl,osl,tpot_ms,ttft_ms,arrivals\n"
                    "llama-3.1-8b,h200-sxm,vllm,1,16,1024,128,9.5,400,burst\n"
                    "llama-3.1-8b,h200-sxm,vllm,1,16,1024,128,9.9,60,\n"
                    "llama-3.1-8b,h200-sxm,vllm,1,16,1024,128,9.9,60,Steady\n"
                    "llama-3.1-8b,h200-sxm,vllm,1,16,1024,128,9.9,60,poisson\n")
    mset = measurements.read(path)
    assert [m.burst for m in mset.rows] == [True, False, False]
    assert mset.skipped == {"unknown arrivals (give steady or burst)": 1}
