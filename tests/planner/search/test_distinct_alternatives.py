"""The --top list offers distinct plans: never one plan cut into more, smaller instances."""

import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.engine.profile import engine
from planner.search.serving import optimise
from planner.serving.candidates import Limits
from planner.serving.evaluate import evaluate_plan
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.serving.space import default_space
from planner.serving.workload import Workload

CAT = Catalogue()


def _scenario(name):
    return Scenario(hardware=CAT.hardware("gb200-nvl72"), model=model(name),
                    workload=Workload(tokens_cached=8192), profile=engine("default"))


def test_dense_dp_groups_are_the_same_plan_as_more_instances():
    # Why dp is no distinction on a dense model: tp 2, dp 2 at batch 384 scores exactly as tp 2, dp 1 at
    # batch 192, per GPU (tokens/s and memory), so 18 of the first are 36 of the second.
    sc = _scenario("llama-3.1-70b")
    one = evaluate_plan(sc, Plan(tp=2, dp=1, batch=192, quant="fp4", kv_quant="fp8"))
    two = evaluate_plan(sc, Plan(tp=2, dp=2, batch=384, quant="fp4", kv_quant="fp8"))
    assert float(two.tok_per_gpu[0]) == pytest.approx(float(one.tok_per_gpu[0]), rel=1e-12)
    assert float(two.memory.total[0]) == pytest.approx(float(one.memory.total[0]), rel=1e-12)


def test_top_k_on_a_dense_model_never_repeats_a_layout_split_into_instances():
    # Before: the top 3 for Llama-3.1-70B on one GB200 rack were 2x1x1x1 b192 x36, 2x1x1x2 b384 x18 and
    # 2x1x1x4 b768 x9, all 244,596 tok/s: one plan three times.
    sc = _scenario("llama-3.1-70b")
    result = optimise(sc, Budget(gpus=72, racks=1), default_space(sc), Limits(), top=5)
    plans = [c.plan for c in result.choices]
    families = {(p.tp, p.pp, p.quant, p.kv_quant, p.kv_offload_fraction) for p in plans}
    assert len(families) == len(plans) == 5
    # The best, and next other layouts (pipeline or tensor split), a little slower. On the kernel curves
    # (GEMM, attention, collectives) tp 2 b192 x36 leads with 211,582 tok/s; splitting it into 2 and 4
    # pipeline stages (b384 x18, b768 x9) costs 0.1 % each, tp 4 3 % (204,490).
    assert (plans[0].tp, plans[0].pp, plans[0].dp, plans[0].batch) == (2, 1, 1, 192)
    assert [p.layout() for p in plans[1:3]] == ["2x2x1x1", "2x4x1x1"]
    tps = [float(c.scores.total_tps[0]) for c in result.choices]
    assert tps == sorted(tps, reverse=True)


def test_moe_dp_groups_stay_distinct_layouts():
    # On an MoE model the dp groups share the routed experts (memory per GPU changes with dp), so dp
    # variants remain different plans: 1x1x1x2 and 1x1x1x1 of Qwen3-235B differ in memory per GPU.
    sc = _scenario("qwen3-235b-a22b")
    one = evaluate_plan(sc, Plan(tp=1, dp=1, batch=64, quant="fp4", kv_quant="fp8"))
    two = evaluate_plan(sc, Plan(tp=1, dp=2, batch=128, quant="fp4", kv_quant="fp8"))
    assert float(two.memory.total[0]) < float(one.memory.total[0])


def test_training_top_k_lists_distinct_layouts_each_slower_than_the_last():
    # Context parallelism is not data parallelism under another name: at 32k tokens per sequence cp 2, 4,
    # 8 and 16 pay the cp group's communication and run a little slower
    # than the pure data-parallel optimum, so the top 5 are five layouts with five different tokens/s.
    import planner
    doc = planner.train_plan(model="llama-3.1-8b", system="gb200-nvl72", seq_len=32768, top=5)
    rows = [doc, *doc["alternatives"]]
    assert [r["layout"] for r in rows] == ["1x1x1x1x64", "1x2x1x1x32", "1x4x1x1x16", "1x8x1x1x8", "1x16x1x1x4"]
    tps = [round(r["tokens_per_s"]) for r in rows]  # as the table prints them (",.0f")
    assert len(set(tps)) == 5 and tps == sorted(tps, reverse=True)
    assert tps[0] / tps[1] > 1.001  # 1,328,083 / 1,325,369 = 1.0020: a real difference, not a split
