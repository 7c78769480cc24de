"""Rows whose serving inputs repeat are timed once (planner.serving.distinct): every figure as when each is timed."""

from dataclasses import fields, is_dataclass

import numpy as np
import pytest

import planner.serving.distinct as distinct
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.serving.evaluate import evaluate, shape_of
from planner.serving.layout import layout
from planner.serving.plan import PlanArrays, take_rows
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def _plans(n, seed=0):
    # batches up to 4,096 sequences: on 8 GPUs or fewer most of them overflow the KV cache, so their rows serve the
    # sequences they admit, and repeat
    rng = np.random.default_rng(seed)
    tp = rng.choice(np.array([1, 2, 4, 8]), n)
    return PlanArrays(tp=tp, pp=rng.choice(np.array([1, 2, 4]), n), dp=np.ones(n, np.int64), ep=np.ones(n, np.int64),
                      batch=rng.integers(1, 4097, n), quant=rng.integers(0, 5, n), kv_quant=rng.integers(0, 2, n),
                      kv_offload_fraction=rng.choice(np.array([0.0, 0.25, 0.5]), n), instances=np.ones(n, np.int64))


def _arrays(obj, where=""):
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v):
            yield from _arrays(v, f"{where}{f.name}.")
        elif isinstance(v, np.ndarray):
            yield where + f.name, v


def test_first_rows_and_inverse_rebuild_every_row():
    sc = Scenario(hardware=Catalogue().hardware("hgx-h200"), model=model("llama-3.1-70b"), workload=Workload(isl=1,
                  osl=1), allow_span=True)
    plans = _plans(6000, seed=1)
    plans = PlanArrays(**{**{f.name: getattr(plans, f.name) for f in fields(plans)},
                          "batch": np.minimum(plans.batch, 40)})  # batches 1..40: many rows repeat
    lay = layout(shape_of(sc), plans)
    first, inverse = distinct.distinct_rows(lay, plans.quant, np.ones(6000, bool))
    # each distinct (tp, pp, batch, quant, kv quant, offload) once: 4 x 3 x 40 x 5 x 2 x 3 = 14,400 possible
    keys = set(zip(plans.tp, plans.pp, plans.batch, plans.quant, plans.kv_quant, plans.kv_offload_fraction))
    assert first.size == len(keys) < 6000
    rebuilt = take_rows(take_rows(lay, first), inverse)
    for (name, a), (_, b) in zip(_arrays(lay), _arrays(rebuilt)):
        assert np.array_equal(a, b), name
    assert np.array_equal(np.take(np.take(plans.quant, first), inverse), plans.quant)


def test_parts_numbered_by_their_bits():
    # whole numbers by themselves; other values by rank (a sample's few values, else all of them); -0.0 is not 0.0
    number, count = distinct._numbered(np.array([3.0, 0.0, 3.0, 7.0]))
    assert number.tolist() == [3, 0, 3, 7] and count == 8
    number, count = distinct._numbered(np.array([0.5, 0.25, 0.5, 0.0, -0.0]))
    assert count == 4 and number[0] == number[2] and len(set(number.tolist())) == 4
    many = np.arange(500) / 7.0  # more values than the sample holds: all of them ranked
    number, count = distinct._numbered(many)
    assert count == 500 and np.array_equal(number, np.arange(500))
    assert distinct._numbered(np.array([1.0, 2.0 ** 40]))[0] is not None  # (ranked as not whole below 2^31)
    assert distinct._numbered(np.array([1, 2 ** 40]))[0] is None  # integers out of range: no key


@pytest.mark.parametrize("name,system", [("llama-3.1-70b", "hgx-h200"), ("qwen3-235b-a22b", "hgx-h200")])
@pytest.mark.parametrize("preset", [None, "seed"])
def test_rows_timed_once_score_as_each_timed(name, system, preset, monkeypatch):
    sc = Scenario(hardware=Catalogue().hardware(system, preset=preset), model=model(name),
                  workload=Workload(isl=4096, osl=1024), allow_span=True)
    plans = _plans(12000, seed=7)
    calls = []
    original = distinct.distinct_rows

    def counted(lay, quant_index, capped):
        out = original(lay, quant_index, capped)
        calls.append(None if out is None else out[0].size)
        return out

    monkeypatch.setattr("planner.serving.aggregated.distinct_rows", counted)
    once = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(distinct, "DISTINCT_MIN_ROWS", 10 ** 9)  # every row timed
    each = evaluate(sc, plans, shape_of(sc))
    for (field, a), (_, b) in zip(_arrays(once), _arrays(each)):
        assert np.array_equal(a, b), field
    assert calls[0] is not None and calls[0] < 0.75 * 12000  # not vacuous: rows repeated and were timed once
