"""Planner results as plain dicts: the JSON document and the rows the tables print."""

from __future__ import annotations

from planner.serving.evaluate import row
from planner.search.serving import Choice, Result


def choice_row(result: Result, choice: Choice, rank: int) -> dict:
    """One plan: the evaluator's keys plus ``plan``, rank, solver and verification."""
    out = {"rank": rank, "plan": choice.plan.as_dict(), "layout": choice.plan.layout()}
    out.update(row(result.scenario, choice.scores, 0))
    out["verification"] = choice.verdict.as_dict()
    out["solve_time_s"] = choice.solution.solve_time_s
    return out


def scenario_dict(result: Result) -> dict:
    """What was asked: model, system, workload, engine, budget, limits."""
    sc = result.scenario
    w = sc.workload
    return {
        "model": sc.model.name, "system": sc.hardware.system.name, "gpu": sc.hardware.gpu.name,
        "fabrics": {k: f.name for k, f in sc.hardware.fabrics.items()},
        "workload": w.model_dump(), "engine": sc.profile.name, "allow_span": sc.allow_span,
        "budget": {"gpus": result.budget.gpus, "racks": result.budget.racks,
                   "max_power_kw": None if result.budget.max_power_w is None else result.budget.max_power_w / 1e3},
        "limits": {"max_tpot_s": result.limits.max_tpot_s, "max_ttft_s": result.limits.max_ttft_s},
        "target_tps": result.target_tps,
    }


def result_document(result: Result) -> dict:
    """The JSON document of ``plan`` / ``min-gpus``: the chosen plan's keys at top level."""
    best = choice_row(result, result.best, 1)
    doc = dict(best)
    doc.update({
        "objective": result.objective,
        "solver": result.best.solution.solver,
        "solve_time_s": result.best.solution.solve_time_s,
        "wall_time_s": result.wall_time_s,
        "scenario": scenario_dict(result),
        "search_space": {**result.space.as_dict(), "counts": result.counts},
        "alternatives": [choice_row(result, c, k + 2) for k, c in enumerate(result.choices[1:])],
    })
    return doc
