"""The serving fixed point iterates only the rows still moving: the figures are those of every row iterating."""

import numpy as np
import pytest

import planner.serving.aggregated as aggregated
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.serving.evaluate import evaluate, shape_of
from planner.serving.plan import PlanArrays, put_rows, take_rows
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    tp = rng.choice(np.array([1, 2, 4, 8]), n)
    dp = rng.choice(np.array([1, 2, 4]), n)
    return PlanArrays(tp=tp, pp=rng.choice(np.array([1, 2, 4]), n), ep=np.minimum(rng.choice(np.array([1, 2, 4, 8]), n),
                      tp * dp), dp=dp, batch=rng.integers(1, 1025, n), quant=rng.integers(0, 3, n),
                      kv_quant=rng.integers(0, 2, n), kv_offload_fraction=np.zeros(n), instances=np.ones(n, np.int64))


@pytest.mark.parametrize("workload", [Workload(isl=4096, osl=1024), Workload(isl=512, osl=64)])
def test_dropping_final_rows_changes_no_figure(workload, monkeypatch):
    sc = Scenario(hardware=Catalogue().hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"), workload=workload,
                  allow_span=True)
    plans = _rows(3000)
    compacted = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(aggregated, "COMPACT_FRACTION", 2.0)  # never drop a row: every row runs every round
    full = evaluate(sc, plans, shape_of(sc))
    for name in ("step_time_s", "ttft_s", "instance_tps", "fabric_bytes_per_s"):
        assert np.array_equal(getattr(compacted, name), getattr(full, name)), name


def test_put_rows_writes_back_what_take_rows_took():
    plans = _rows(10)
    target = take_rows(plans, np.arange(10))
    target.batch[:] = 0
    idx = np.array([1, 4, 7])
    put_rows(target, idx, take_rows(plans, idx))
    # rows 1, 4, 7 restored; the other seven stay 0
    assert np.array_equal(target.batch[idx], plans.batch[idx]) and np.count_nonzero(target.batch) == 3
