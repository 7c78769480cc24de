"""Oracle tests: the MILP optimum equals brute-force enumeration of the same search space.

``planner.verify.bruteforce`` lists every combination with itertools, scores them in one evaluator
call and picks the best instance count per row directly; the planner enumerates with
meshgrid, prunes dominated candidates and solves a MILP. Their optima must agree.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.engine.profile import engine
from planner.errors import InfeasibleError
from planner.search.serving import optimise
from planner.serving.candidates import Limits
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace, default_space
from planner.serving.workload import Workload
from planner.verify.bruteforce import brute_force

CAT = Catalogue()
MODELS = ["llama-3.1-8b", "qwen3-30b-a3b", "mixtral-8x7b", "llama-3.1-70b", "gpt-oss-20b"]
SYSTEMS = ["hgx-h200", "gb200-nvl72", "mi355x-8", "hgx-h100"]
# Relative agreement: both sides sum the same float coefficients; 1e-9 is far below any real difference.
REL = 1e-9


def _subset(values):
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True).map(
        lambda v: tuple(sorted(v)))


@st.composite
def instances(draw):
    m = model(draw(st.sampled_from(MODELS)))
    hw = CAT.hardware(draw(st.sampled_from(SYSTEMS)))
    if draw(st.booleans()):
        w = Workload(tokens_cached=draw(st.sampled_from([0, 512, 4096, 32768])))
    else:
        w = Workload(isl=draw(st.sampled_from([128, 1024, 4096])), osl=draw(st.sampled_from([128, 1024])))
    sc = Scenario(hardware=hw, model=m, workload=w, profile=engine("default"), allow_span=draw(st.booleans()))
    space = SearchSpace(
        tp=draw(_subset([1, 2, 4, 8])), pp=draw(_subset([1, 2])), dp=draw(_subset([1, 2, 4])),
        ep=draw(_subset([1, 2, 4] if m.moe else [1])), batch=draw(_subset([1, 3, 8, 32, 96, 256])),
        quant=draw(_subset(["bf16", "fp8", "fp4"])), kv_quant=draw(_subset(["bf16", "fp8"])),
        kv_offload_fraction=draw(_subset([0.0, 0.5])),
    )
    budget = Budget(gpus=draw(st.integers(1, 40)),
                    max_power_w=draw(st.one_of(st.none(), st.floats(2e3, 3e4))))
    limits = Limits(max_tpot_s=draw(st.one_of(st.none(), st.floats(0.005, 0.2))))
    return sc, space, budget, limits


def _milp(sc, space, budget, limits, objective, target=None):
    try:
        return optimise(sc, budget, space, limits, objective, target, top=1).best
    except InfeasibleError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_max_tps_matches_brute_force(case):
    sc, space, budget, limits = case
    oracle = brute_force(sc, budget, space, limits, "max_tps")
    got = _milp(sc, space, budget, limits, "max_tps")
    if oracle.value is None:
        assert got is None
        return
    assert got is not None
    total = float(got.scores.total_tps[0])
    assert total == pytest.approx(oracle.value, rel=REL)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.floats(0.05, 1.2))
def test_min_gpus_matches_brute_force(case, fraction):
    sc, space, budget, limits = case
    best = brute_force(sc, budget, space, limits, "max_tps")
    if best.value is None:
        return
    # Targets from 5 % to 120 % of the best reachable: the last ones must be infeasible.
    target = best.value * fraction
    oracle = brute_force(sc, budget, space, limits, "min_gpus", target)
    got = _milp(sc, space, budget, limits, "min_gpus", target)
    if oracle.value is None:
        assert got is None
        return
    assert got is not None
    assert got.plan.gpus == oracle.value
    assert float(got.scores.total_tps[0]) >= target * (1 - 1e-12)


def test_realistic_qwen3_on_two_gb200_racks():
    # The realistic instance: Qwen3-235B-A22B, 2 gb200-nvl72 racks (144 GPUs), decode at 8k
    # context, a full-size space with tp/pp/ep/dp, 24 batch sizes, 3 quantisations, 2 KV formats and 3
    # offload levels (hundreds of thousands of rows).
    sc = Scenario(hardware=CAT.hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"),
                  workload=Workload(tokens_cached=8192), profile=engine("default"))
    space = default_space(sc)
    budget = Budget(gpus=144, racks=2)
    oracle = brute_force(sc, budget, space, Limits(), "max_tps")
    result = optimise(sc, budget, space, Limits(), "max_tps", top=1)
    assert result.counts["enumerated"] == space.size() == oracle.rows
    assert float(result.best.scores.total_tps[0]) == pytest.approx(oracle.value, rel=REL)
    # Same question with a per-user floor of 50 tok/s (TPOT <= 20 ms).
    limits = Limits(max_tpot_s=0.02)
    oracle = brute_force(sc, budget, space, limits, "max_tps")
    result = optimise(sc, budget, space, limits, "max_tps", top=1)
    assert float(result.best.scores.total_tps[0]) == pytest.approx(oracle.value, rel=REL)
    assert float(result.best.scores.step_time_s[0]) <= 0.02
