"""Monotonicity of the planner's optimum, and the seed notes' Note 4 what-if."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_plan_oracle import instances

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.engine.profile import engine
from planner.errors import InfeasibleError
from planner.search.serving import optimise
from planner.serving.candidates import Limits
from planner.serving.scenario import Scenario
from planner.serving.space import default_space
from planner.serving.workload import Workload

CAT = Catalogue()


def _best(sc, space, budget, limits, objective="max_tps", target=None):
    try:
        return optimise(sc, budget, space, limits, objective, target, top=1).best
    except InfeasibleError:
        return None


def _tps(choice):
    return 0.0 if choice is None else float(choice.scores.total_tps[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(1, 64))
def test_more_gpus_never_lower_the_optimum(case, extra):
    sc, space, budget, limits = case
    small = _tps(_best(sc, space, budget, limits))
    large = _tps(_best(sc, space, Budget(gpus=budget.gpus + extra, max_power_w=budget.max_power_w), limits))
    assert large >= small * (1 - 1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.floats(1.0, 10.0))
def test_looser_latency_never_lowers_the_optimum(case, factor):
    sc, space, budget, limits = case
    tight = Limits(max_tpot_s=0.01)
    loose = Limits(max_tpot_s=0.01 * factor)
    assert _tps(_best(sc, space, budget, loose)) >= _tps(_best(sc, space, budget, tight)) * (1 - 1e-12)
    assert _tps(_best(sc, space, budget, Limits())) >= _tps(_best(sc, space, budget, loose)) * (1 - 1e-12)


def test_more_racks_never_lower_the_optimum_realistic():
    sc = Scenario(hardware=CAT.hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"),
                  workload=Workload(tokens_cached=8192), profile=engine("default"))
    space = default_space(sc)
    totals = [_tps(_best(sc, space, Budget.of(sc.hardware, r, None), Limits())) for r in (1, 2, 4)]
    # Racks are identical and instances never straddle racks here, so the optimum scales exactly.
    assert totals[1] == pytest.approx(2 * totals[0], rel=1e-9)
    assert totals[2] == pytest.approx(4 * totals[0], rel=1e-9)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.lists(st.floats(0.05, 1.0), min_size=2, max_size=4))
def test_min_gpus_is_non_decreasing_in_target_and_reaches_it(case, fractions):
    sc, space, budget, limits = case
    top = _best(sc, space, budget, limits)
    if top is None:
        return
    gpus = []
    for f in sorted(fractions):
        target = _tps(top) * f
        choice = _best(sc, space, budget, limits, "min_gpus", target)
        assert choice is not None  # the max-TPS plan itself reaches every target <= its total
        assert float(choice.scores.total_tps[0]) >= target * (1 - 1e-12)
        gpus.append(choice.plan.gpus)
    assert gpus == sorted(gpus)


def test_note4_400gbe_changes_the_choice_and_loads_the_network():
    # Seed Note 4: with every link at 400 GbE (~50 GB/s) instead of NVLink (0.9 TB/s), plans that
    # lean on the fabric become comm-bound; the planner should cut tensor degrees and lose throughput.
    hw = CAT.hardware("gb200-nvl72")
    base = Scenario(hardware=hw, model=model("qwen3-235b-a22b"), workload=Workload(tokens_cached=8192),
                    profile=engine("default"))
    eth = Scenario(hardware=hw.with_fabric(CAT.fabric("400gbe")), model=base.model, workload=base.workload,
                   profile=base.profile)
    space = default_space(base)
    budget = Budget.of(hw, 1, None)
    nv = optimise(base, budget, space, Limits(), top=1).best
    ge = optimise(eth, budget, space, Limits(), top=1).best
    # The choice changes: fewer GPUs share each layer's collectives.
    assert ge.plan.tp * ge.plan.dp < nv.plan.tp * nv.plan.dp
    assert _tps(ge) < _tps(nv)
    # The NVLink optimum, moved onto 400 GbE unchanged, turns comm-bound and its network
    # utilisation rises several-fold (18x the bandwidth ratio, divided by its slower step).
    from planner.serving.evaluate import evaluate_plan
    moved = evaluate_plan(eth, nv.plan)
    assert moved.limit[0] == 2  # LIMITS.index("comm")
    ratio = moved.fabric_utilisation[1, 0] / nv.scores.fabric_utilisation[1, 0]
    slowdown = moved.stage_time_s[0] / nv.scores.stage_time_s[0]
    # utilisation = bytes / (stage time x bandwidth): bytes equal, bandwidth 900/50 = 18x lower.
    assert ratio == pytest.approx(18.0 / slowdown, rel=1e-9)
    assert ratio > 3
