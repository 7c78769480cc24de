"""A campaign most of whose runs break a physical floor is counted out whole (screen.discredited_campaigns)."""

from collections import Counter

from hardware.catalogue import Catalogue
from planner.calibration import measurements, screen
from planner.calibration.measurements import Measurement, MeasurementSet

CAT = Catalogue()


def _run(batch, isl, osl, tpot_ms, ttft_ms, campaign="h200 vllm llama file"):
    # Llama-3.1-8B FP8 on one H200 under vLLM, as the shipped file's collection measured it.
    return Measurement(line=2, label=f"{batch}x{isl}/{osl}", model="llama-3.1-8b", system="hgx-h200", gpu=None,
                       engine="vllm", tp=1, pp=1, ep=1, dp=1, batch=batch, quant="fp8", kv_quant="fp8", isl=isl,
                       osl=osl, tpot_s=tpot_ms / 1e3, ttft_s=ttft_ms / 1e3, tok_per_gpu=None, campaign=campaign)


# Below the measured-rate floor: 64 x 2,000 / 100 at TPOT 9.74 ms, TTFT 121.73 ms needs 10.52 ms at the fastest FP8
# GEMM ever measured on an H200 (tests/planner/calibration/test_ceilings.py, test_counted_out_row).
MEASURED_RATE = (64, 2000, 100, 9.74, 121.73)
# Below the datasheet floor: a 1.0 ms step cannot read the 8.03 GB of FP8 weights (1.67 ms at 4.8 TB/s).
DATASHEET = (64, 2000, 100, 1.0, 121.73)
# Above every floor (kept in the shipped file): 96 x 4,000 / 500 at 17.11 / 120.93 ms and 128 x 4,000 / 1,000 at
# 21.99 / 114.96 ms.
KEPT = ((96, 4000, 500, 17.11, 120.93), (128, 4000, 1000, 21.99, 114.96))


def _resolve(*runs, **options):
    return screen.resolve(MeasurementSet(path="hand.csv", kind="silicon", rows=tuple(runs), skipped={}), CAT,
                          **options)[0]


def test_majority_below_a_floor_counts_the_campaign_out():
    # 2 of 3 below a floor (one the datasheet's, one the measured rate's): the third goes too.
    kept = _resolve(_run(*MEASURED_RATE), _run(*DATASHEET), _run(*KEPT[0]))
    assert kept.rows == ()
    assert kept.skipped == {screen.MEASURED_CEILING_REASON: 1, screen.CAMPAIGN_REASON: 1,
                            "TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1}


def test_minority_below_a_floor_keeps_the_others():
    # 1 of 3 below: the two others stay; so do runs without a campaign (the simple format), whatever their floors.
    kept = _resolve(_run(*MEASURED_RATE), _run(*KEPT[0]), _run(*KEPT[1]))
    assert [m.batch for m in kept.rows] == [96, 128] and kept.skipped == {screen.MEASURED_CEILING_REASON: 1}
    kept = _resolve(_run(*MEASURED_RATE, campaign=None), _run(*DATASHEET, campaign=None), _run(*KEPT[0], campaign=None))
    assert [m.batch for m in kept.rows] == [96]


def test_only_the_floors_applied_count():
    # Without the kernel-table screens the measured-rate run is kept: 1 of 3 below, nothing else goes.
    kept = _resolve(_run(*MEASURED_RATE), _run(*DATASHEET), _run(*KEPT[0]), measured_ceiling=False)
    assert [m.batch for m in kept.rows] == [64, 96]


def test_discredited_campaigns_is_a_strict_majority():
    floored = Counter({"a": 2, "b": 1, "c": 3, None: 5})
    passed = Counter({"a": 1, "b": 1, None: 0})
    assert screen.discredited_campaigns(floored, passed) == {"a", "c"}  # b: a tie stays; None: no campaign


def test_campaign_is_read_from_the_provenance(silicon_file):
    path = silicon_file([
        "a,source_file=/data/h200_sxm/vllm/0.12.0/llama.csv; silicon_concurrency=8,vllm,meta-llama/Llama-3.1-8B,"
        "h200_sxm",
        "b,db-dump/2026-04-27; config_id=88; silicon_concurrency=8,sglang,deepseek-ai/DeepSeek-V3,b200_sxm",
        "c,,vllm,meta-llama/Llama-3.1-8B,h200_sxm"], ",agg,1024,1024,fp8,fp8,8,8,1,,,,300,10")
    campaigns = [m.campaign for m in measurements.read(path).rows]
    assert campaigns == ["source_file=/data/h200_sxm/vllm/0.12.0/llama.csv, meta-llama/Llama-3.1-8B, vllm, h200_sxm",
                      "config_id=88, deepseek-ai/DeepSeek-V3, sglang, b200_sxm", None]


def test_simple_format_names_its_campaigns(tmp_path):
    # rackplan calibrate's simple CSV takes an optional campaign column: the Llama-3.1-8B / H200 runs above as one
    # user's sweep "a" (2 of its 3 below a floor: the third goes too) beside the same kept run in sweep "b"
    # (above every floor: stays), and once more with the cell empty (no campaign: stays). The datasheet-floor run
    # at 32 requests, not 64: the file reader counts out repeats of one configuration more than 2x apart.
    path = tmp_path / "runs.csv"
    head = "model,system,engine,tp,batch,quant,kv_quant,isl,osl,tpot_ms,ttft_ms,campaign"

    def line(run, campaign):
        batch, isl, osl, tpot, ttft = run
        return f"llama-3.1-8b,hgx-h200,vllm,1,{batch},fp8,fp8,{isl},{osl},{tpot},{ttft},{campaign}"
    below_datasheet = (32, *DATASHEET[1:])
    path.write_text("\n".join([head, line(MEASURED_RATE, "a"), line(below_datasheet, "a"), line(KEPT[0], "a"),
                               line(KEPT[1], "b"), line(KEPT[0], "")]) + "\n")
    rows = measurements.read(path).rows
    assert [m.campaign for m in rows] == ["a", "a", "a", "b", None]
    kept = screen.resolve(measurements.read(path), CAT)[0]
    assert [(m.batch, m.campaign) for m in kept.rows] == [(128, "b"), (96, None)]
    assert kept.skipped[screen.CAMPAIGN_REASON] == 1
