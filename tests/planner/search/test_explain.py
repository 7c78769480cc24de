"""Why this plan: binding limits with their numbers, the pace-setting subsystem, the runner-up, what would move it.

One question, the issue's own: ``rackplan plan --isl 4096 --osl 1024`` (Qwen3-235B-A22B on one GB200
NVL72 rack, the default latency limits TPOT <= 80 ms and TTFT <= 2 s).
"""

import pytest

import planner
from planner.serving.evaluate import evaluate_plan
from planner.serving.plan import Plan
from planner.studies.serving import scenario


@pytest.fixture(scope="module")
def doc():
    return planner.plan(isl=4096, osl=1024, top=2)


def _by_name(e):
    return {x["name"]: x for x in e["binding"]}


def test_the_binding_limits_carry_their_numbers(doc):
    e = doc["explanation"]
    b = _by_name(e)
    assert doc["layout"] == "2x1x2x1" and doc["plan"]["batch"] == 384 and doc["plan"]["instances"] == 36
    # 36 instances of 2 GPUs fill the rack's 72 GPUs.
    assert (b["gpu_budget"]["used"], b["gpu_budget"]["limit"], b["gpu_budget"]["binding"]) == (72, 72, True)
    assert b["gpu_budget"]["text"] == "GPU budget: 72 of 72 GPUs in use"
    # HBM usable: 186 GB x 0.9 (the default engine's hbm_usable_fraction) = 167.4 GB.
    assert b["hbm"]["limit"] == pytest.approx(167.4, rel=1e-12)
    assert b["hbm"]["used"] == pytest.approx(doc["memory_per_gpu_bytes"]["total"] / 1e9, rel=1e-12)
    assert b["ttft"]["limit"] == pytest.approx(2000.0) and b["ttft"]["used"] == pytest.approx(doc["ttft_s"] * 1e3)
    assert b["tpot"]["limit"] == pytest.approx(80.0) and b["tpot"]["binding"] is False
    # Binding means the next batch of the ladder (512) breaks it: score that batch and see (185 GB a GPU, so its
    # KV cache admits fewer sequences and the rest queue outside: TTFT 12 s).
    sc = scenario(isl=4096, osl=1024)
    nxt = evaluate_plan(sc, Plan(tp=2, ep=2, batch=512, quant="fp4", kv_quant="fp8"))
    assert float(nxt.memory.total[0]) > 167.4e9 and b["hbm"]["binding"] is True
    assert float(nxt.ttft_s[0]) > 2.0 and b["ttft"]["binding"] is True
    assert float(nxt.step_time_s[0]) < 0.08  # TPOT would still hold: it does not bind
    assert b["hbm"]["text"].endswith("(batch 512 would break it)")


def test_the_limiting_subsystem_is_the_largest_term_and_its_share(doc):
    s = doc["explanation"]["limiting_subsystem"]
    split = doc["time_split_s"]
    assert s["name"] == doc["limit"] == "attn"
    # pp = 1: the share is the attention kernels' term over the step time. On the kernel curves the
    # default isl/osl plan's step (56.2 ms) is attention 21.9 ms (4,096-token prompts' KV read and
    # prefill), MoE experts 19.4, dense GEMMs 6.2, communication 5.9 and HBM 1.8 (new KV, activations).
    assert s["share"] == pytest.approx(split["attention"] / doc["step_time_s"], rel=1e-12)
    assert 0.37 < s["share"] < 0.41
    assert 0.33 < split["moe"] / doc["step_time_s"] < 0.36
    assert 0.10 < split["gemm"] / doc["step_time_s"] < 0.12


def test_the_runner_up_is_the_next_distinct_plan_and_says_what_it_gives_up(doc):
    r = doc["explanation"]["runner_up"]
    alt = doc["alternatives"][0]
    assert r["layout"] == alt["layout"] != doc["layout"]
    assert r["tps_given_up"] == pytest.approx(doc["total_tps"] - alt["total_tps"], rel=1e-12)
    assert f"{(doc['total_tps'] - alt['total_tps']) / doc['total_tps']:.1%} less" in r["text"]


def test_what_would_move_it_is_solved_not_guessed(doc):
    moves = doc["explanation"]["what_would_move_it"]
    rack = moves[0]
    assert rack["change"] == "one more rack (144 GPUs)"
    # Two racks hold twice the instances of the same 2-GPU plan: 72 x 6,694 tok/s = twice the answer.
    assert rack["gpus"] == 144 and rack["total_tps"] == pytest.approx(2 * doc["total_tps"], rel=1e-9)
    # The TTFT limit binds, so it is the latency limit relaxed: at 2.2 s a 4-GPU plan of two pipeline stages runs
    # 1,024 sequences (18 instances), 7.1 % more, and the explanation gives the solved number.
    ttft = moves[1]
    assert ttft["change"] == "TTFT limit relaxed by 10% to 2,200 ms"
    assert ttft["total_tps"] == pytest.approx(1.071 * doc["total_tps"], rel=1e-3)
    direct = planner.plan(isl=4096, osl=1024, top=1, max_ttft_ms=2200)
    assert direct["total_tps"] == pytest.approx(ttft["total_tps"], rel=1e-9)


def test_min_gpus_explains_its_target():
    d = planner.min_gpus(100_000, isl=4096, osl=1024, top=1)
    b = _by_name(d["explanation"])
    assert b["target"]["limit"] == 100_000 and b["target"]["used"] >= 100_000
    move = d["explanation"]["what_would_move_it"][0]
    assert move["change"] == "target 10% lower (90,000 tok/s)"
    assert move["gpus"] <= d["gpus"]
    assert d["explanation"]["runner_up"] is None


def test_an_answer_outside_the_measured_range_names_the_best_plan_inside_it():
    # The default workload under SGLang on one rack of HGX H200: 768 sequences an instance, past the 4-512
    # sglang.toml was measured at (its runs include H200, so the GPU is inside).
    d = planner.plan(engine_name="sglang", system="hgx-h200", top=1)
    assert d["outside_measured_range"] == ["batch 768 outside the 4-512 sequences per instance sglang was measured at"]
    move = d["explanation"]["what_would_move_it"][-1]
    assert move["change"] == "only plans inside the range sglang was measured at"
    # Solved, not guessed: here only the batch keeps the answer out, so the same question with the batch ladder
    # cut at 512 (--max-batch 512) finds the same plan, and that plan lies inside every measured figure.
    direct = planner.plan(engine_name="sglang", system="hgx-h200", top=1, max_batch=512)
    assert direct["outside_measured_range"] == [] and direct["plan"] == move["plan"]
    assert move["total_tps"] == pytest.approx(direct["total_tps"], rel=1e-12) and move["total_tps"] < d["total_tps"]
    assert move["text"].startswith(f"only plans inside the range sglang was measured at: {direct['total_tps']:,.0f} "
                                   f"tok/s ({(direct['total_tps'] - d['total_tps']) / d['total_tps']:+.1%})")
    # On GB200, where no SGLang run was measured, no plan lies inside whatever its batch.
    gb200 = planner.plan(engine_name="sglang", top=1)
    assert gb200["outside_measured_range"][0] == "GPU gb200: sglang was measured on b200, b300, h100-sxm, h200-sxm only"
    assert gb200["explanation"]["what_would_move_it"][-1]["text"].endswith("no plan of the search space lies inside it")
    # 20,000 tokens cached lie past the 1,152-9,216 tokens trtllm.toml was measured at, whatever the plan:
    # nothing to solve, and the explanation says so.
    far = planner.plan(engine_name="trtllm", model="llama-3.1-8b", system="hgx-h200", gpus=8, tokens_cached=20000,
                       top=1)["explanation"]["what_would_move_it"][-1]
    assert far["text"] == ("only plans inside the range trtllm was measured at: no plan of the search space lies "
                           "inside it") and far["total_tps"] is None
    # Inside the range already (the default engine records none): nothing to add.
    assert all(not m["change"].startswith("only plans inside") for m in
               planner.plan(isl=4096, osl=1024, top=1)["explanation"]["what_would_move_it"])


def test_a_relaxation_that_changes_nothing_says_so():
    # Llama-3.1-70B on 8 H100 at 32 tok/s per user: the answer, 4x1x1x1 at batch 192 x 2, runs its step at 30.5
    # of the 31.25 ms allowed, and the next batch of the ladder (256) needs more than 34.4 ms, so relaxing the TPOT
    # limit by 10 % solves to the same plan: the line says that, not "+0.0 %" beside the plan itself.
    doc = planner.plan(model="llama-3.1-70b", system="hgx-h100", gpus=8, isl=1024, osl=1024, min_tok_per_user=32,
                       top=1)
    relaxed = [m for m in doc["explanation"]["what_would_move_it"] if m["change"].startswith("TPOT limit relaxed")]
    assert [m["text"] for m in relaxed] == ["TPOT limit relaxed by 10% to 34.4 ms: the same plan, no better one"]
    assert relaxed[0]["plan"] == doc["plan"] and relaxed[0]["total_tps"] == pytest.approx(doc["total_tps"])
    sc = scenario(model="llama-3.1-70b", system="hgx-h100", isl=1024, osl=1024)
    nxt = evaluate_plan(sc, Plan(tp=4, batch=256, quant="fp8", kv_quant="fp8"))
    assert float(nxt.step_time_s[0]) > 1 / 32 * 1.1
