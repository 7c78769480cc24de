"""A frontier line's points, and a compare's budgets, share one scored candidate table: the same rows as
planned one by one."""

import planner.search.serving as search_serving
import planner.studies.shared as shared
from planner.serving.candidates import Limits, candidate_table
from planner.studies.compare import (
    ScenarioSpec,
    Settings,
    add_ratios,
    axis_values,
    compare,
    expand,
    plan_row,
    problem,
)
from planner.studies.frontier import frontier, trace
from planner.studies.shared import limited_table, same_table_order, shared_table, sharing_tables

SMALL = Settings(max_batch=64)
SPEC = ScenarioSpec(model="qwen3-30b-a3b", system="hgx-h200", racks=1, tokens_cached=4096)
TIMES = ("solve_time_s", "wall_time_s", "verify_time_s")


def _counting(monkeypatch):
    """Count the candidate tables scored, by the optimiser and by the shared store alike."""
    calls = []
    for module in (search_serving, shared):
        real = module.scored_table
        monkeypatch.setattr(module, "scored_table", lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k))
    return calls


def _untimed(rows):
    return [{k: v for k, v in r.items() if k not in TIMES} for r in rows]


def test_a_line_is_scored_once_and_gives_the_rows_planned_one_by_one(monkeypatch):
    calls = _counting(monkeypatch)
    alone = trace(SPEC, SMALL, points=4, label="qwen3-30b-a3b, hgx-h200")  # the line's name: what varies
    # Outside sharing_tables each solve scores its own table: the unconstrained optimum, the fastest
    # plan, then 3 floors (fewer if the ladder is shorter): one per solve.
    assert len(calls) >= 4
    calls.clear()
    rows = frontier([SPEC], SMALL, points=4)
    assert len(calls) == 1
    assert _untimed(rows) == _untimed([{**p, "index": 1, "point": k} for k, p in enumerate(alone, 1)])


def test_the_store_keeps_one_table_and_only_inside_the_block():
    p = problem(SPEC, SMALL)
    assert shared_table(p.scenario, p.space) is None  # not sharing: nothing kept
    with sharing_tables():
        table = shared_table(p.scenario, p.space)
        assert table is not None and shared_table(p.scenario, p.space) is table
        assert (table.ok == table.scores.feasible).all()  # scored under no limits: ok is the layout rules
        # Another space (a smaller batch ladder) replaces it: one table at a time.
        other = problem(SPEC, Settings(max_batch=32))
        assert shared_table(other.scenario, other.space) is not table
        assert shared_table(p.scenario, p.space) is not table
        # Re-marked under a latency floor it is the table scored under that floor.
        limits = Limits(max_tpot_s=1 / 150.0)
        marked = limited_table(p.scenario, p.space, limits)
    assert shared_table(p.scenario, p.space) is None
    alone = candidate_table(p.scenario, p.space, limits)
    assert 0 < marked.ok.sum() < marked.scores.feasible.sum()  # the floor leaves some layouts out, not all
    assert (marked.ok == alone.ok).all() and (marked.scores.step_time_s == alone.scores.step_time_s).all()


def test_a_compare_scores_each_table_once_and_keeps_its_row_order(monkeypatch):
    # budget (1, 2 racks) is an outer axis of context (2 contexts): rows 1, 2, 3, 4 are (1 rack, 2048),
    # (1 rack, 4096), (2 racks, 2048), (2 racks, 4096), and rows 1 and 3, 2 and 4 share a table.
    specs = expand(axis_values(models=["qwen3-30b-a3b"], systems=["hgx-h200"], gpu_budgets=[8, 16],
                               tokens_cached=[2048, 4096]))
    assert [(s.gpus, s.tokens_cached) for s in specs] == [(8, 2048), (8, 4096), (16, 2048), (16, 4096)]
    assert same_table_order(specs) == [0, 2, 1, 3]
    calls = _counting(monkeypatch)
    alone = [plan_row(spec, SMALL, i + 1) for i, spec in enumerate(specs)]
    assert len(calls) == 4  # one table per row
    calls.clear()
    seen = []
    rows = compare(specs, SMALL, progress=lambda done, total: seen.append(done))
    assert len(calls) == 2  # one per context
    assert _untimed(rows) == _untimed(add_ratios(alone, 1))
    assert seen == [0, 1, 2, 3, 4]  # progress counts scenarios done, whatever the order
