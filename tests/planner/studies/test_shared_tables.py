"""A frontier line's points share one scored candidate table: the same rows as planned one by one."""

import planner.search.serving as search_serving
import planner.studies.shared as shared
from planner.serving.candidates import Limits, candidate_table
from planner.studies.compare import ScenarioSpec, Settings, problem
from planner.studies.frontier import frontier, trace
from planner.studies.shared import limited_table, shared_table, sharing_tables

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
