"""Oracle tests for training mode: the MILP optimum equals brute-force enumeration of the same space.

The brute force here is independent of the planner's enumeration, pruning and MILP: it lists every
combination with ``itertools.product``, scores them in one evaluator call and applies every limit
directly (layout rules, precision, HBM, GPU budget, power, fabric, target).
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.catalogue import Catalogue
from hardware.specs import Hardware
from models.catalogue import model
from models.spec import ModelSpec, MoeSpec
from planner.budget import Budget, fabric_capacity_bytes_per_s
from planner.errors import InfeasibleError
from planner.search.training import optimise_training
from planner.training.evaluate import TrainingScenario, evaluate_training
from planner.training.space import TrainingSearchSpace
from planner.training.workload import TrainingPlan, TrainingPlanArrays, TrainingWorkload

CAT = Catalogue()
SYSTEMS = ["hgx-h100", "gb200-nvl72", "mi300x-8"]
# Both sides sum the same float coefficients; 1e-9 is far below any real difference.
REL = 1e-9


def _subset(values):
    """A non-empty subset of ``values`` as a sorted tuple (a search-space axis)."""
    return st.sets(st.sampled_from(values), min_size=1).map(sorted).map(tuple)


@st.composite
def models(draw):
    if draw(st.booleans()):
        return model(draw(st.sampled_from(["llama-3.1-8b", "qwen3-30b-a3b"])))
    h = draw(st.sampled_from([1024, 2048, 4096]))
    heads = draw(st.sampled_from([16, 32]))
    moe = None
    if draw(st.booleans()):
        moe = MoeSpec(num_experts=8, num_experts_per_tok=2, moe_intermediate_size=h)
    return ModelSpec(name="tiny", source="test", model_type="llama", hidden_size=h,
                     num_hidden_layers=draw(st.sampled_from([4, 8, 12])), num_attention_heads=heads,
                     num_key_value_heads=draw(st.sampled_from([4, 8])), intermediate_size=4 * h, vocab_size=32000,
                     moe=moe)


@st.composite
def instances(draw):
    m = draw(models())
    hw: Hardware = CAT.hardware(draw(st.sampled_from(SYSTEMS)))
    w = TrainingWorkload(global_batch_sequences=draw(st.sampled_from([8, 16, 32])),
                         sequence_tokens=draw(st.sampled_from([1024, 4096])))
    sc = TrainingScenario(hardware=hw, model=m, workload=w, allow_span=draw(st.booleans()))
    space = TrainingSearchSpace(
        tp=draw(_subset([1, 2, 4])), pp=draw(_subset([1, 2, 4])), vpp=draw(_subset([1, 2])),
        cp=draw(_subset([1, 2])), ep=draw(_subset([1, 2, 4] if m.moe else [1])), dp=draw(_subset([1, 2, 4, 8])),
        micro_batch=draw(_subset([1, 2])), recompute=draw(_subset(["none", "selective", "full"])),
        zero=draw(_subset([0, 1, 2, 3])), precision=draw(_subset(["bf16", "fp8"])))
    # Mostly budgets where something fits; a power cap in a third of the cases (1 GPU = 0.7 to 1.2 kW).
    budget = Budget(gpus=draw(st.integers(2, 64)),
                    max_power_w=draw(st.one_of(st.none(), st.none(), st.floats(3e3, 5e4))))
    return sc, space, budget


def brute_force(sc, space, budget, objective, target=None):
    """Best tokens/s (or fewest GPUs) over every combination of ``space``; None when nothing fits."""
    combos = list(itertools.product(space.tp, space.pp, space.vpp, space.cp, space.ep, space.dp,
                                    space.micro_batch, space.recompute, space.zero, space.precision))
    plans = [TrainingPlan(*c) for c in combos]
    s = evaluate_training(sc, TrainingPlanArrays.from_plans(plans))
    ok = s.feasible & (s.gpus <= budget.gpus)
    if budget.max_power_w is not None:
        ok &= s.power_w <= budget.max_power_w
    capacity = fabric_capacity_bytes_per_s(sc.hardware, budget.gpus)
    ok &= (s.fabric_bytes_per_s[1] <= capacity[1]) & (s.fabric_bytes_per_s[2] <= capacity[2])
    if target is not None:
        ok &= s.tokens_per_s >= target
    if not ok.any():
        return None
    return float(s.tokens_per_s[ok].max()) if objective == "max_tokens_per_s" else float(s.gpus[ok].min())


def milp(sc, space, budget, objective, target=None):
    try:
        best = optimise_training(sc, budget, space, objective, target).best
    except InfeasibleError:
        return None
    assert best.verdict.ok
    return float(best.scores.tokens_per_s[0]) if objective == "max_tokens_per_s" else float(best.plan.gpus)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=instances())
def test_max_tokens_per_s_equals_brute_force(case):
    sc, space, budget = case
    expected = brute_force(sc, space, budget, "max_tokens_per_s")
    got = milp(sc, space, budget, "max_tokens_per_s")
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=REL)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=instances(), share=st.floats(0.05, 1.2))
def test_min_gpus_equals_brute_force(case, share):
    sc, space, budget = case
    best = brute_force(sc, space, budget, "max_tokens_per_s")
    target = (best or 1e5) * share  # around what the budget can reach, sometimes beyond it
    expected = brute_force(sc, space, budget, "min_gpus", target)
    got = milp(sc, space, budget, "min_gpus", target)
    if expected is None:
        assert got is None
    else:
        assert got == expected


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=instances(), extra=st.integers(1, 64))
def test_more_gpus_never_lower_the_optimum(case, extra):
    sc, space, budget = case
    small = milp(sc, space, budget, "max_tokens_per_s")
    large = milp(sc, space, Budget(gpus=budget.gpus + extra, max_power_w=budget.max_power_w), "max_tokens_per_s")
    if small is not None:
        assert large is not None and large >= small * (1 - REL)


def test_realistic_instance_llama_70b_on_two_h100_racks():
    # 64 H100s, the default training space pinned to nothing: the MILP's answer equals the best row of the
    # full enumerated table.
    hw = CAT.hardware("hgx-h100")
    sc = TrainingScenario(hw, model("llama-3.1-70b"), TrainingWorkload(global_batch_sequences=128,
                                                                       sequence_tokens=8192))
    from planner.training.space import default_training_space, training_candidates
    budget = Budget.of(hw, 2, None)
    space = default_training_space(sc, budget.gpus)
    table = training_candidates(sc, space, budget.gpus)
    expected = float(np.max(table.scores.tokens_per_s[table.ok]))
    result = optimise_training(sc, budget, space, top=3)
    assert float(result.best.scores.tokens_per_s[0]) == pytest.approx(expected, rel=REL)
    ranked = [float(c.scores.tokens_per_s[0]) for c in result.choices]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) == 3
