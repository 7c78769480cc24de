"""Scores taken rather than computed again, bit for bit what computing them gives: a top-K answer verified in one
evaluator call (``planner.verify.serving.verify_all``), each plan's scores and verdict those of verifying it
alone, a failing plan still failing; and the explanation's next batch read from the scored table."""

from dataclasses import fields, is_dataclass, replace

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.engine.profile import engine
from planner.errors import VerificationError
from planner.search import explain
from planner.search.serving import optimise
from planner.serving.candidates import Limits
from planner.serving.evaluate import REPORTED, evaluate_plan
from planner.serving.scenario import Scenario
from planner.serving.space import default_space
from planner.serving.workload import Workload
from planner.verify.serving import verify, verify_all

CAT = Catalogue()
CASES = {
    # the default plan's scenario (tokens cached) and the isl/osl one of `bench/cli.py`, with their top 5
    "decode": (Scenario(hardware=CAT.hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"),
                        workload=Workload(tokens_cached=8192), profile=engine("default")),
               Budget(gpus=72, racks=1), Limits()),
    "isl-osl": (Scenario(hardware=CAT.hardware("hgx-h200"), model=model("qwen3-235b-a22b"),
                         workload=Workload(isl=4096, osl=1024), profile=engine("default")),
                Budget(gpus=8, racks=1), Limits(max_tpot_s=0.05, max_ttft_s=2.0)),
}


def _identical(a, b) -> None:
    """Equal, array for array, bit for bit (NaN where NaN), nested records included."""
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if is_dataclass(x) and not isinstance(x, type):
            _identical(x, y)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, f.name
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name
        else:
            assert x == y, f.name


@pytest.mark.parametrize("case", CASES)
def test_each_plan_of_a_top_five_verifies_as_it_does_alone(case):
    sc, budget, limits = CASES[case]
    space = default_space(sc)
    result = optimise(sc, budget, space, limits, top=5)
    assert len(result.choices) == 5  # five distinct layouts fit either budget: four re-scored beside another
    for choice in result.choices:
        verdict, alone = verify(sc, choice.plan, budget, limits, space, "max_tps",
                                choice.solution.objective_value)
        assert verdict == choice.verdict
        _identical(choice.scores, alone)
        assert len(choice.scores.total_tps) == 1


def test_a_failing_plan_fails_in_a_batch_too():
    sc, budget, limits = CASES["decode"]
    space = default_space(sc)
    best = optimise(sc, budget, space, limits, top=2).choices
    plans = [c.plan for c in best]
    objectives = [c.solution.objective_value for c in best]
    assert len(verify_all(sc, plans, budget, limits, space, "max_tps", objectives)) == 2
    # the second plan on twice the GPUs the budget holds: its gpu_budget check fails, beside a good plan
    wide = replace(plans[1], instances=2 * plans[1].instances)
    with pytest.raises(VerificationError, match="gpu_budget"):
        verify_all(sc, [plans[0], wide], budget, limits, space, "max_tps", objectives)


@pytest.mark.parametrize("case", CASES)
def test_the_next_batch_of_the_explanation_is_its_scored_rows_figures(case, monkeypatch):
    sc, budget, limits = CASES[case]
    result = optimise(sc, budget, default_space(sc), limits, top=1)
    best = result.best.plan
    larger = [b for b in result.space.batch if b > best.batch]
    assert larger  # neither answer is at the largest batch of the space
    nxt = replace(best, batch=larger[0], instances=1)
    fresh = evaluate_plan(sc, nxt)
    monkeypatch.setattr(explain, "evaluate_plan", None)  # from the table, or this fails
    taken = explain._scored(result, nxt)
    # the table keeps every figure but those only a plan's report reads (evaluate.REPORTED: None there)
    assert {f.name for f in fields(taken) if getattr(taken, f.name) is None} - {"ttft_s"} == set(REPORTED)
    _identical(taken.plans, fresh.plans)
    _identical(replace(taken, **{name: getattr(fresh, name) for name in REPORTED}), fresh)


def test_the_explanations_answers_verify_together_as_each_alone():
    sc, budget, limits = CASES["isl-osl"]
    result = optimise(sc, budget, default_space(sc), limits, top=1)
    more = Budget(gpus=16, racks=None)  # one more 8-GPU server's worth
    relaxed = Limits(max_tpot_s=limits.max_tpot_s, max_ttft_s=limits.max_ttft_s * 1.1)
    asked = [explain._again(result, budget=more), (None, budget, limits, None),
             explain._again(result, limits=relaxed)]
    assert asked[0][0].scores is None and asked[0][0].verdict is None  # not verified until _verified
    answers = explain._verified(result, asked)
    assert answers[1] is None
    for (choice, b, lim, _), answer in zip([asked[0], asked[2]], [answers[0], answers[2]]):
        verdict, alone = verify(sc, choice.plan, b, lim, result.space, "max_tps", choice.solution.objective_value)
        assert answer.plan == choice.plan and answer.verdict == verdict
        _identical(answer.scores, alone)
