"""A candidate table's scores leave out the figures only a plan's report reads (``evaluate.REPORTED``): the rest
are the full scores' bit for bit, decode and isl/osl, whole or scored in blocks."""

from dataclasses import fields

import numpy as np
import pytest

import planner.serving.evaluate as evaluate_module
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.serving.candidates import Limits, candidate_table, enumerate_plans
from planner.serving.evaluate import REPORTED, evaluate, shape_of
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
