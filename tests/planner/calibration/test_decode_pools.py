"""Decode pools of disaggregated silicon runs: read (measurements.read(decode_pools=True)), their running
sequences by Little's law, and their TPOT scored by the evaluator's decode-only instance (decode_pools)."""

from pathlib import Path

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from planner.calibration import decode_pools, measurements
from planner.calibration.fit import kv_mode
from planner.engine.profile import engine
from planner.errors import InputError
from planner.model_file import model as load_model
from planner.serving.disagg import decode_scores
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
SHIPPED = Path(__file__).resolve().parents[3] / "calibration" / "silicon_calibration.csv"
HEADER = ("id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,gemm_quant_mode,"
          "moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,decode_batch_size,"
          "decode_num_workers,decode_tp_size,decode_pp_size,decode_attention_dp_size,decode_moe_tp_size,"
          "decode_moe_ep_size,silicon_ttft_ms,silicon_tpot_ms")


def _line(name, concurrency, decode, mode="disagg", batch="", ttft="13233.08", tpot="25.31"):
    # decode: (batch per rank, workers, tp, pp, attention dp, moe tp, moe ep), as the shipped file's columns
    source = "db-dump; config_id=253" + (f"; silicon_concurrency={concurrency}" if concurrency else "")
    layout = ",".join(str(x) for x in decode)
    return (f"{name},{source},sglang,0.5.5,deepseek-ai/DeepSeek-V3,gb200,fp8,{mode},8192,1024,fp8_block,fp8_block,"
            f"{batch},{'8' if batch else ''},{'1' if batch else ''},1,8,1,{layout},{ttft},{tpot}")


def _read(tmp_path, *lines, **options):
    path = tmp_path / "runs.csv"
    path.write_text("\n".join((HEADER, *lines)) + "\n")
    return measurements.read(path, **options)


def test_a_decode_pool_row_reads_its_own_layout_and_one_workers_batch(tmp_path):
    # 64 per rank x 32 attention-DP ranks x 1 worker = the recorded 2,048 in flight (the shipped row cfg253).
    pools = _read(tmp_path, _line("wide", 2048, (64, 1, 1, 1, 32, 32, 1)), decode_pools=True)
    (m,) = pools.rows
    assert (m.tp, m.pp, m.dp, m.ep, m.moe_tp, m.batch) == (1, 1, 32, 1, 32, 2048)
    assert (m.system, m.engine, m.quant, m.isl, m.osl) == ("gb200-nvl72", "sglang", "fp8", 8192, 1024)
    assert m.tpot_s == pytest.approx(25.31e-3) and m.ttft_s == pytest.approx(13.23308)
    # Four workers of 9 x 1 rank (TP 8): batch 9 per worker, 36 recorded in all.
    (m,) = _read(tmp_path, _line("tp8", 36, (9, 4, 8, 1, 1, 1, 8)), decode_pools=True).rows
    assert (m.tp, m.dp, m.ep, m.batch) == (8, 1, 8, 9)


def test_pools_without_a_layout_or_a_matching_concurrency_are_counted_out(tmp_path):
    pools = _read(tmp_path,
                  _line("agg", 64, ("",) * 7, mode="agg", batch="64"),     # an aggregated run: not a pool
                  _line("other", 2000, (64, 1, 1, 1, 32, 32, 1)),           # 2,000 recorded, 2,048 implied
                  _line("unrecorded", None, (64, 1, 1, 1, 32, 32, 1)),     # no concurrency recorded
                  _line("no batch", 3072, ("", 1, 4, 1, 1, 1, 1)),          # no decode batch (gpt-oss on GB200)
                  decode_pools=True)
    assert pools.rows == ()
    assert pools.skipped == {measurements.AGGREGATED_RUN: 1, measurements.AMBIGUOUS_POOL_CONCURRENCY: 2,
                             "no decode-pool layout or batch recorded": 1}
    # Read as aggregated runs, the same file keeps its aggregated row and counts the pools out as before.
    runs = _read(tmp_path, _line("agg", 64, ("",) * 7, mode="agg", batch="64"),
                 _line("wide", 2048, (64, 1, 1, 1, 32, 32, 1)))
    assert [m.label for m in runs.rows] == ["agg"]
    assert runs.skipped == {"disaggregated run (prefill and decode pools measured together)": 1}


def test_decode_pools_come_from_silicon_files_only(tmp_path):
    path = tmp_path / "simple.csv"
    path.write_text("model,system,tp,batch,isl,osl,tpot_ms\nllama-3.1-8b,hgx-h200,1,8,1024,128,8.0\n")
    with pytest.raises(InputError, match="silicon format only"):
        measurements.read(path, decode_pools=True)


def test_running_sequences_by_littles_law(tmp_path):
    (m,) = _read(tmp_path, _line("wide", 2048, (64, 1, 1, 1, 32, 32, 1)), decode_pools=True).rows
    # 1,023 steps of 25.31 ms decode for 25.89 s of a 39.12 s lifetime (TTFT 13.23 s): 2048 x 25.89 / 39.12 = 1,355.
    assert decode_pools.running(m) == 1355
    assert decode_pools.running(m.__class__(**{**m.__dict__, "ttft_s": None})) == 2048  # no TTFT: all decoding
    assert decode_pools.running(m.__class__(**{**m.__dict__, "batch": 1, "ttft_s": 1e6})) == 1  # at least one


def test_predicted_tpot_is_the_decode_instance_step_at_the_running_sequences(tmp_path):
    mset, hardware = decode_pools.resolve(_read(tmp_path, _line("wide", 2048, (64, 1, 1, 1, 32, 32, 1)),
                                                decode_pools=True), CAT)
    (m,) = mset.rows
    assert m.model_name == "deepseek-v3"
    prof = engine("sglang")
    predicted = decode_pools.predict_tpot(list(mset.rows), hardware, [prof])
    sc = Scenario(hardware=hardware["gb200-nvl72"], model=load_model("deepseek-v3"),
                  workload=Workload(isl=8192, osl=1024), profile=prof)

    def step(batch):
        plans = PlanArrays.from_plans([Plan(tp=1, pp=1, ep=1, dp=32, batch=batch, quant="fp8",
                                            kv_quant=kv_mode(prof, "fp8"))])
        return float(decode_scores(sc, plans).step_time_s[0])
    assert predicted[0] == pytest.approx(step(1355), rel=1e-12)
    assert step(2048) > predicted[0]  # the whole concurrency would be a longer step: the correction is applied


def test_the_shipped_file_scores_its_recorded_pools():
    # calibration/silicon_calibration.csv: 293 disaggregated runs; 50 record no decode batch (gpt-oss-120b on GB200
    # and Qwen3-32B on H100), 5 a concurrency their layout does not give, 8 a decode pool wider than its server.
    mset, hardware = decode_pools.resolve(measurements.read(SHIPPED, decode_pools=True), CAT)
    assert len(mset.rows) == 230
    assert {k: v for k, v in mset.skipped.items() if k != measurements.AGGREGATED_RUN} == {
        "no decode-pool layout or batch recorded": 50, measurements.AMBIGUOUS_POOL_CONCURRENCY: 5,
        "layout wider than the scale-up domain": 8}
    rows = list(mset.rows)
    predicted = decode_pools.predict_tpot(rows, hardware, [engine(m.engine) for m in rows])
    assert np.isfinite(predicted).all() and (predicted > 0).all()


def test_sglang_fp8_wide_ep_pool_on_the_deepep_kernel():
    # Shipped row dsr1_gb200_sglang_fp8_disagg_1024x1024_c4096_cfg523 (SGLang 0.5.8.post1): attention DP 32, EP 32,
    # 4,096 in flight, TTFT 2,730 ms, TPOT 26.64 ms: 4096 x 27.25 / (2.73 + 27.25) = 3,723 decoding. On the
    # DeepEP expert kernel (planner.engine.kernels.moe, "Wide expert parallelism") the model predicts 25.9 ms;
    # on SGLang's moe_perf curve it predicted 42.7 ms (+60 %).
    mset, hardware = decode_pools.resolve(measurements.read(SHIPPED, decode_pools=True), CAT)
    (m,) = [m for m in mset.rows if m.label == "dsr1_gb200_sglang_fp8_disagg_1024x1024_c4096_cfg523"]
    assert decode_pools.running(m) == 3723
    predicted = decode_pools.predict_tpot([m], hardware, [engine("sglang")])[0]
    assert predicted == pytest.approx(m.tpot_s, rel=0.10)
