"""Planner results as plain dicts: the JSON document and the rows the tables print.

`plan_row` and `plan_document` serve serving and training alike: each mode passes the function that
turns a scored candidate into its evaluator keys (``serving.evaluate.row``, ``training_summary.training_row``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from planner.budget import footprint
from planner.search.explain import explain
from planner.search.serving import Choice, Result
from planner.serving.evaluate import row
from planner.units import kw


def plan_row(result, choice, rank: int, scores_row: Callable) -> dict:
    """One plan: ``scores_row``'s evaluator keys plus ``plan``, rank, solver and verification."""
    out = {"rank": rank, "plan": choice.plan.as_dict(), "layout": choice.plan.layout()}
    out.update(scores_row(result.scenario, choice.scores, 0))
    out["verification"] = choice.verdict.as_dict()
    out["solve_time_s"] = choice.solution.solve_time_s
    return out


def plan_document(result, scenario: dict, scores_row: Callable) -> dict:
    """The JSON document of a planner result: the chosen plan's keys at top level, then what was
    asked (``scenario``), the search space and the next best plans."""
    doc = plan_row(result, result.best, 1, scores_row)
    doc.update({
        "objective": result.objective,
        "solver": result.best.solution.solver,
        "solve_time_s": result.best.solution.solve_time_s,
        "wall_time_s": result.wall_time_s,
        "scenario": scenario,
        "search_space": {**result.space.as_dict(), "counts": result.counts},
        "alternatives": [plan_row(result, c, k + 2, scores_row) for k, c in enumerate(result.choices[1:])],
    })
    return doc


def budget_dict(budget) -> dict:
    """A budget in the document's units: GPUs, racks, power cap in kW."""
    return {"gpus": budget.gpus, "racks": budget.racks,
            "max_power_kw": None if budget.max_power_w is None else kw(budget.max_power_w)}


def choice_row(result: Result, choice: Choice, rank: int) -> dict:
    """One serving plan: the evaluator's keys plus ``plan``, rank, solver and verification."""
    return plan_row(result, choice, rank, row)


def scenario_dict(result: Result) -> dict:
    """What was asked: model, system, workload, engine, budget, limits."""
    sc = result.scenario
    return {
        "model": sc.model.name, "system": sc.hardware.system.name, "gpu": sc.hardware.gpu.name,
        "fabrics": {k: f.name for k, f in sc.hardware.fabrics.items()},
        "workload": dataclasses.asdict(sc.workload), "engine": sc.profile.name,
        "out_of_family_error_pct": sc.profile.out_of_family_error(sc.workload.has_prefill),
        "allow_span": sc.allow_span,
        "budget": budget_dict(result.budget),
        "limits": {"max_tpot_s": result.limits.max_tpot_s, "max_ttft_s": result.limits.max_ttft_s},
        "target_tps": result.target_tps,
    }


def result_document(result: Result) -> dict:
    """The JSON document of ``plan`` / ``min-gpus``: the chosen plan's keys at top level, and
    ``explanation`` (why this plan: ``planner.search.explain``)."""
    doc = plan_document(result, scenario_dict(result), row)
    doc["footprint"] = footprint(result.scenario.hardware, result.best.plan.gpus)
    doc["explanation"] = explain(result)
    return doc
