"""A candidate table's scores leave out the figures only a plan's report reads (``evaluate.REPORTED``): the rest
are the full scores' bit for bit, decode and isl/osl, whole or scored in blocks."""

from dataclasses import fields

import numpy as np
import pytest

import planner.serving.evaluate as evaluate_module
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.serving.candidates import Limits, candidate_table, enumerate_plans
from planner.serving.evaluate import REPORTED, evaluate, fit, shape_of
from planner.serving.scenario import Scenario
from planner.serving.space import default_space
from planner.serving.workload import Workload


@pytest.mark.parametrize("workload", [Workload(tokens_cached=8192), Workload(isl=1024, osl=256)])
def test_table_scores_are_the_full_scores_less_the_reported_figures(workload, monkeypatch):
    sc = Scenario(hardware=Catalogue().hardware("hgx-h200"), model=model("qwen3-30b-a3b"), workload=workload)
    space = default_space(sc).pinned(batch=(8, 256, 1024))
    plans = enumerate_plans(sc, space)
    monkeypatch.setattr(evaluate_module, "BLOCK_ROWS", len(plans) // 3)  # four blocks, joined
    full, table = evaluate(sc, plans, shape_of(sc)), evaluate(sc, plans, shape_of(sc), full=False)
    assert {f.name for f in fields(table) if getattr(table, f.name) is None} - {"ttft_s"} == set(REPORTED)
    for part, whole in ((table, full), (table.memory, full.memory)):
        for f in fields(part):
            x, y = getattr(part, f.name), getattr(whole, f.name)
            if f.name not in REPORTED and isinstance(y, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y), f.name
    # the table the search reads is scored so, and marks the same rows as the full scores
    marked = candidate_table(sc, space, Limits(max_tpot_s=0.05))
    assert marked.scores.total_tps is None
    assert np.array_equal(marked.ok, full.feasible & (full.step_time_s <= 0.05)) and 0 < marked.ok.sum() < len(plans)


@pytest.mark.parametrize("workload", [Workload(tokens_cached=1024), Workload(isl=1024, osl=256)])
def test_fit_is_the_scores_limits_without_the_times(workload):
    # evaluate.fit (a prefill pool's memory and feasibility, planner.serving.disagg.prefill_scores) gives the arrays
    # the full scores hold under those names, bit for bit, and marks the same rows feasible; some rows do not fit
    # (Qwen3-235B-A22B's weights on one H200), so the check is not vacuous
    sc = Scenario(hardware=Catalogue().hardware("hgx-h200"), model=model("qwen3-235b-a22b"), workload=workload)
    plans = enumerate_plans(sc, default_space(sc).pinned(batch=(8, 256, 4096)))
    full, limits = evaluate(sc, plans), fit(sc, plans)
    for name in ("layout_ok", "span_ok", "feasible", "hbm_excess_bytes", "host_excess_bytes"):
        x, y = getattr(limits, name), getattr(full, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    for f in fields(limits.memory):
        assert np.array_equal(getattr(limits.memory, f.name), getattr(full.memory, f.name)), f.name
    assert (limits.hbm_capacity_bytes, limits.host_capacity_bytes) == (full.hbm_capacity_bytes,
                                                                       full.host_capacity_bytes)
    assert 0 < limits.feasible.sum() < len(plans)
