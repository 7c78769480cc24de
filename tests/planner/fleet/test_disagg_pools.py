"""Disaggregated serving: prefill and decode pools scored, sized together, re-scored and fabric-checked."""

from dataclasses import replace

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.engine.profile import engine
from planner.errors import InputError
from planner.fleet.disagg import plan_disagg
from planner.report.fleet_summary import fleet_document
from planner.serving.candidates import Limits
from planner.serving.disagg import decode_scores, kv_bytes_per_request, prefill_scores
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace
from planner.serving.workload import Workload

CAT = Catalogue()
H200 = CAT.hardware("hgx-h200")
LLAMA8 = model("llama-3.1-8b")


def _scenario(isl=1024, osl=256, hw=H200, m=LLAMA8):
    return Scenario(hardware=hw, model=m, workload=Workload(isl=isl, osl=osl), profile=engine("default"))


def _space(**kw):
    base = dict(tp=(1, 2), pp=(1,), dp=(1,), ep=(1,), batch=(8, 64, 256), quant=("fp8",), kv_quant=("fp8",),
                kv_offload_fraction=(0.0,))
    base.update(kw)
    return SearchSpace(**base)


def test_kv_bytes_per_request_by_hand():
    # Llama-3.1-8B: 32 layers x 8 KV heads x 128 dims x 2 (K and V) = 65,536 elements per token;
    # a 1,024-token prompt at fp8 (1 byte) is 67,108,864 bytes; bf16 twice that.
    sc = _scenario()
    assert kv_bytes_per_request(sc, "fp8") == 65_536 * 1024
    assert kv_bytes_per_request(sc, "bf16") == 2 * 65_536 * 1024


def test_prefill_rate_and_ttft_are_one_batch_time():
    sc = _scenario(isl=1024)
    plans = PlanArrays.from_plans([Plan(tp=1, batch=4), Plan(tp=2, batch=4), Plan(tp=1, pp=2, batch=4)])
    p = prefill_scores(sc, plans)
    prof = sc.profile
    # 4 prompts x 1,024 tokens = 4,096 tokens per micro-batch (pp = 1) fit one 8,192-token chunk: n = 1,
    # and the batch's 4,096 prompt tokens take one step: rate = 4,096 / (TTFT - ttft overhead).
    assert p.iterations[:2].tolist() == [1.0, 1.0]
    assert p.prompt_tps[:2] * (p.batch_time_s[:2] - prof.ttft_overhead_s) == pytest.approx([4096.0, 4096.0], rel=1e-12)
    # pp = 2: micro-batches of 2 prompts; one takes (1 + 2 - 1) = 2 stage times to the first token,
    # while the full pipeline finishes 4 prompts every 2 stage times + one step overhead.
    stage = (p.batch_time_s[2] - prof.ttft_overhead_s - prof.step_overhead_s) / 2
    assert p.prompt_tps[2] == pytest.approx(4096.0 / (2 * stage + prof.step_overhead_s), rel=1e-12)
    # Two GPUs prefill one batch faster than one GPU does.
    assert p.batch_time_s[1] < p.batch_time_s[0]


def test_long_prompts_are_chunked():
    # isl 20,000 > the 8,192-token chunk: ceil(20,000 / 8,192) = 3 iterations per prompt.
    sc = _scenario(isl=20_000)
    p = prefill_scores(sc, PlanArrays.from_plans([Plan(tp=2, batch=1)]))
    assert p.iterations[0] == np.ceil(20_000 / sc.profile.prefill_chunk_tokens) == 3


def test_decode_pool_is_steady_decode_with_full_kv_reservation():
    # osl 256: the decode pool runs at context isl + osl / 2 = 1,152 (what steady-state decode at
    # tokens_cached 1,152 runs at) but reserves KV for isl + osl = 1,280 tokens per sequence, as
    # the aggregated evaluator does.
    sc = _scenario(isl=1024, osl=256)
    plans = PlanArrays.from_plans([Plan(tp=1, batch=64, quant="fp8", kv_quant="fp8"), Plan(tp=2, batch=256)])
    d = decode_scores(sc, plans)
    steady = evaluate(Scenario(hardware=H200, model=LLAMA8, workload=Workload(tokens_cached=1152)), plans)
    reserve = evaluate(Scenario(hardware=H200, model=LLAMA8, workload=Workload(tokens_cached=1280)), plans)
    assert d.step_time_s == pytest.approx(steady.step_time_s, rel=1e-12)
    assert d.memory.kv_hbm == pytest.approx(reserve.memory.kv_hbm, rel=1e-12)
    # No prompt work rides in a decode-only step: it is never slower than the aggregated step.
    agg = evaluate(sc, plans)
    assert np.all(d.step_time_s <= agg.step_time_s * (1 + 1e-12))


def test_disagg_plan_pools_rescored_and_kv_within_the_fabric():
    sc = _scenario(isl=1024, osl=256)
    result = plan_disagg(sc, Budget(gpus=8), _space(), Limits(max_tpot_s=0.05, max_ttft_s=1.0))
    doc = fleet_document(result)
    assert doc["verification"]["ok"]
    pools = {p["role"]: p for p in doc["pools"]}
    assert set(pools) == {"prefill", "decode"}
    requests = sum(f["requests_per_s"] for f in doc["kv_transfer"])
    # Every request is prefilled and decoded: prompt capacity >= 1,024 x requests/s, output
    # capacity >= 256 x requests/s; the plan serves 256 tokens per request.
    prefill = sum(p["pool_tok_per_s"] for p in doc["pools"] if p["role"] == "prefill")
    decode = sum(p["pool_tok_per_s"] for p in doc["pools"] if p["role"] == "decode")
    assert prefill >= 1024 * requests * (1 - 1e-9)
    assert decode >= 256 * requests * (1 - 1e-9)
    assert doc["totals"]["output_tps"] == pytest.approx(256 * requests, rel=1e-12)
    # Each pool was re-scored from scratch: its per-instance rate is the evaluator's again.
    for p in doc["pools"]:
        plan = Plan(**{k: v for k, v in p["plan"].items() if k != "gpus"})
        arrays = PlanArrays.from_plans([plan])
        again = (prefill_scores(sc, arrays).prompt_tps if p["role"] == "prefill"
                 else decode_scores(sc, arrays).instance_tps)[0]
        assert p["instance_tok_per_s"] == pytest.approx(float(again), rel=1e-12)
        assert p["tpot_s"] is None or p["tpot_s"] <= 0.05
        assert p["ttft_s"] is None or p["ttft_s"] <= 1.0
    # KV hand-off inside one HGX kind goes over its inter-server links (InfiniBand NDR, 50 GB/s
    # per GPU): 8 GPUs x 50 GB/s = 400 GB/s; requests x 67.1 MB (fp8 KV of 1,024 tokens) fit.
    kv = doc["kv_transfer"][0]
    assert kv["tier"].startswith("inter_server (ib-ndr-400)")
    assert kv["bytes_per_request"] == 65_536 * 1024
    row = next(r for r in doc["fabric"] if r["tier"] == "inter_server")
    assert row["capacity_gb_per_s"] == pytest.approx(8 * H200.fabrics["inter_server"].bytes_per_s / 1e9)
    assert row["kv_gb_per_s"] == pytest.approx(requests * 65_536 * 1024 / 1e9, rel=1e-12)
    names = {c["name"].split("__")[0] for c in doc["verification"]["checks"]}
    assert {"prefill_capacity", "decode_capacity", "fabric_inter_server", "packing", "hbm_capacity"} <= names


def test_a_thin_fabric_caps_disaggregated_output_at_its_kv_rate():
    # Replace the HGX inter-server links by 0.1 GB/s per GPU: 8 GPUs carry 0.8 GB/s of KV, i.e.
    # 0.8e9 / 67,108,864 B = 11.92 requests/s = 3,051.8 output tokens/s at osl 256, far below what
    # eight H200s decode. Instances of 1-8 GPUs stay in one server, so only the KV uses the link.
    slow = replace(H200.fabrics["inter_server"], bytes_per_s=0.1e9)
    hw = replace(H200, fabrics={**H200.fabrics, "inter_server": slow})
    sc = _scenario(isl=1024, osl=256, hw=hw)
    doc = fleet_document(plan_disagg(sc, Budget(gpus=8), _space(), Limits()))
    assert doc["totals"]["output_tps"] == pytest.approx(0.8e9 / (65_536 * 1024) * 256, rel=1e-6)
    row = next(r for r in doc["fabric"] if r["tier"] == "inter_server")
    assert row["utilisation"] == pytest.approx(1.0, rel=1e-6)


def test_disagg_needs_prompts_and_one_domain():
    with pytest.raises(InputError, match="isl/osl"):
        plan_disagg(Scenario(hardware=H200, model=LLAMA8, workload=Workload(tokens_cached=1024)), Budget(gpus=8),
                    _space())
    with pytest.raises(InputError, match="allow-span"):
        plan_disagg(Scenario(hardware=H200, model=LLAMA8, workload=Workload(isl=8, osl=8), allow_span=True),
                    Budget(gpus=8), _space())


def test_pools_say_whether_measured_runs_back_them():
    # TensorRT-LLM's profile was fitted on aggregated runs (prompts and decode together; disaggregated runs
    # are counted out): a prefill-only pool is outside by construction. The decode pool is judged on its own
    # figures: trtllm.toml measured 1-384 sequences, so a decode batch of 256 lies inside, 1,024 outside.
    sc = replace(_scenario(), profile=engine("trtllm"))
    for batch, decode in ((256, []), (1024, ["batch 1,024 outside the 1-384 sequences per instance trtllm was "
                                             "measured at"])):
        doc = fleet_document(plan_disagg(sc, Budget(gpus=8), _space(batch=(8, batch)), Limits()))
        by_role = {p["role"]: p["outside_measured_range"] for p in doc["pools"]}
        assert [p["plan"]["batch"] for p in doc["pools"] if p["role"] == "decode"] == [batch]  # the larger one
        assert by_role == {"prefill": ["a prefill-only pool: trtllm was measured serving prompts and decode "
                                       "together"], "decode": decode}
    # The default engine records no range: nothing to say either way.
    doc = fleet_document(plan_disagg(_scenario(), Budget(gpus=8), _space(), Limits()))
    assert {p["role"]: p["outside_measured_range"] for p in doc["pools"]} == {"prefill": None, "decode": None}
