"""The decode evaluator computes the terms that read no KV choice once per run of rows differing in KV choices only
(``planner.serving.plan.kv_runs``): every row's figures are those it gets scored among rows with no runs."""

from dataclasses import fields

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.serving.candidates import enumerate_plans
from planner.serving.evaluate import evaluate, shape_of
from planner.serving.plan import PlanArrays, kv_runs, take_rows
from planner.serving.scenario import Scenario
from planner.serving.space import default_space
from planner.serving.workload import Workload


def _plans(rows: list[tuple]) -> PlanArrays:
    cols = np.array(rows, dtype=float).T
    ints = {name: cols[k].astype(np.int64) for k, name in enumerate(("tp", "pp", "ep", "dp", "batch", "quant",
                                                                     "kv_quant"))}
    return PlanArrays(**ints, kv_offload_fraction=cols[7], instances=np.ones(len(rows), np.int64))


def test_runs_of_rows_differing_in_kv_choices_only():
    # (tp, pp, ep, dp, batch, quant, kv_quant, offload): rows 0-2 differ in KV choices only, row 3 in quant,
    # row 4 in batch, row 5 in KV again (a run with row 4): runs start at 0, 3, 4
    plans = _plans([(2, 1, 1, 1, 64, 1, 0, 0.0), (2, 1, 1, 1, 64, 1, 1, 0.0), (2, 1, 1, 1, 64, 1, 1, 0.5),
                    (2, 1, 1, 1, 64, 2, 1, 0.5), (2, 1, 1, 1, 128, 2, 1, 0.5), (2, 1, 1, 1, 128, 2, 0, 0.0)])
    runs = kv_runs(plans)
    assert runs.first.tolist() == [0, 3, 4] and runs.owner.tolist() == [0, 0, 0, 1, 2, 2]
    assert runs.spread(np.array([10.0, 20.0, 30.0])).tolist() == [10, 10, 10, 20, 30, 30]
    # every row its own run but one pair (5 runs of 6 rows, more than half): not worth it, None
    assert kv_runs(_plans([(1, 1, 1, 1, b, 0, 0, 0.0) for b in (1, 2, 3, 4, 5)] + [(1, 1, 1, 1, 5, 0, 1, 0.0)])) is None
    # a layout change in any one of tp, pp, ep, dp starts a run
    for k in range(4):
        row = [1, 1, 1, 1, 8, 0, 0, 0.0]
        other = list(row)
        other[k], other[6] = 2, 1
        assert kv_runs(_plans([row, row, other, other])).first.tolist() == [0, 2]


@pytest.mark.parametrize("name,system,preset", [("qwen3-235b-a22b", "gb200-nvl72", None),  # MoE, every curve
                                                ("llama-3.1-70b", "hgx-h200", None),        # dense, GQA
                                                ("deepseek-v3", "hgx-b200", None),          # MLA, shared experts
                                                ("gpt-oss-120b", "hgx-h100", None),         # experts-only MXFP4
                                                ("qwen3-235b-a22b", "gb200-nvl72", "seed")])  # no curves
def test_table_scored_by_runs_gives_each_row_its_own_figures(name, system, preset):
    hw = Catalogue().hardware(system, preset=preset)
    sc = Scenario(hardware=hw, model=model(name), workload=Workload(tokens_cached=8192))
    space = default_space(sc).pinned(batch=(1, 7, 64, 512, 1536), kv_offload_fraction=(0.0, 0.25, 0.5))
    plans = enumerate_plans(sc, space)
    runs = kv_runs(plans)
    # kv_quant x offload choices: each (layout, batch, quant) row once per choice, one after another
    assert runs is not None and len(plans) == runs.first.size * len(space.kv_quant) * 3
    order = np.random.default_rng(3).permutation(len(plans))
    shuffled = plans.take(order)
    assert kv_runs(shuffled) is None  # shuffled, no run is two rows on average: every term on every row
    by_runs, alone = evaluate(sc, plans, shape_of(sc)), evaluate(sc, shuffled, shape_of(sc))
    ordered = take_rows(by_runs, order)
    for part, whole in ((ordered, alone), (ordered.memory, alone.memory)):  # Scores and its Memory record
        for f in fields(part):
            x, y = getattr(part, f.name), getattr(whole, f.name)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y), f.name
