"""Functions of one small whole-number column (a layout's tp, tp x dp, ep) are computed once per value and taken by
each row (planner.serving.distinct.whole_index: the collectives' curves, the MoE curve's 2 ln ep): every figure is
the one computed row by row; and the evaluator's integer shortcuts (layout rules by float quotients, the first
largest term by counting) give the booleans and indices of the plain integer arithmetic."""

import importlib.util
import os
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest

import planner.serving.distinct as distinct
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.kernels import comm as comm_kernels
from planner.serving.evaluate import evaluate, first_largest, shape_of
from planner.serving.layout import layout
from planner.serving.parallel import divides
from planner.serving.plan import PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def _plans(n: int, moe: bool, seed: int = 0) -> PlanArrays:
    """bench/evaluator.py's own random rows (power-of-two layouts, ep up to tp x dp for MoE, every mode), loaded from
    the script (it finds bench/machine.py on the path, then takes its folder off it again; the thread settings it
    puts in the environment are undone)."""
    bench, environ = Path(__file__).resolve().parents[3] / "bench", dict(os.environ)
    sys.path.insert(0, str(bench))
    try:
        spec = importlib.util.spec_from_file_location("bench_evaluator", bench / "evaluator.py")
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
    finally:
        sys.path[:] = [p for p in sys.path if p != str(bench)]
        os.environ.clear()
        os.environ.update(environ)
    return script.random_rows(n, moe, seed)


def _arrays(obj, where=""):
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            yield from _arrays(v, f"{where}{f.name}.")
        elif isinstance(v, np.ndarray):
            yield where + f.name, v


@pytest.mark.parametrize("name,system,preset", [("qwen3-235b-a22b", "gb200-nvl72", None),  # MoE, spans past a tray
                                                ("llama-3.1-70b", "hgx-h200", None),        # dense, GQA
                                                ("deepseek-v3", "hgx-b200", None),          # MLA, shared experts
                                                ("gpt-oss-120b", "hgx-h100", None),         # experts-only MXFP4
                                                ("qwen3-235b-a22b", "gb200-nvl72", "seed")])  # no curves
@pytest.mark.parametrize("workload", [Workload(tokens_cached=8192), Workload(isl=4096, osl=1024)])
def test_per_value_tables_give_every_row_its_own_figures(name, system, preset, workload, monkeypatch):
    sc = Scenario(hardware=Catalogue().hardware(system, preset=preset), model=model(name), workload=workload,
                  allow_span=True)
    plans = _plans(3000, sc.model.moe is not None)
    tabled = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(distinct, "TABLE_MIN_ROWS", 10 ** 9)  # every function of a size computed row by row
    assert distinct.whole_index(layout(shape_of(sc), plans).tp) is None
    alone = evaluate(sc, plans, shape_of(sc))
    for (key, a), (_, b) in zip(_arrays(tabled), _arrays(alone), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), key


def test_whole_index_only_for_few_whole_numbers_from_one():
    values = np.tile(np.array([1.0, 2.0, 8.0, 4.0]), 100)
    index = distinct.whole_index(values)
    assert index.tolist()[:4] == [1, 2, 8, 4] and distinct.table_values(index).tolist() == [1, 1, 2, 3, 4, 5, 6, 7, 8]
    assert distinct.whole_index(np.append(values, 0.5)) is None   # a fraction (an expert split of half a GPU)
    assert distinct.whole_index(np.append(values, 0.0)) is None   # a zero (a layout the rules reject)
    assert distinct.whole_index(np.append(values, 4096.0)) is None  # beyond the table
    assert distinct.whole_index(values[:8]) is None                # too few rows to be worth a table
    assert distinct.whole_index(np.append(values, 2.5), whole=True)[-1] == 2  # (whole: known, not compared)


def test_allreduce_split_into_group_and_message_parts():
    # allreduce_s = latency + min(one-shot, two-shot + round): n = 8, 1 MiB at 100 GB/s, floor 5 us, step 1 us,
    # round 6 us: latency 5 + 3 x 1 = 8 us; one-shot 7 x 1 MiB / 100 GB/s = 73.4 us; two-shot 1.75 x 10.49 + 6 =
    # 24.35 us; 8 + 24.35 = 32.35 us; n = 1: 0
    t = comm_kernels.allreduce_s(np.array([8.0, 1.0]), 2.0 ** 20, 5e-6, 1e-6, 1e11, 6e-6)
    assert t[0] == pytest.approx(8e-6 + 1.75 * 2.0 ** 20 / 1e11 + 6e-6) and t[1] == 0.0
    # all-to-all over 8 GPUs to 4 EP ranks: 8 us + 3/4 x 10.49 us = 15.86 us; one rank: 0
    t = comm_kernels.alltoall_s(8.0, 2.0 ** 20, np.array([4.0, 1.0]), 5e-6, 1e-6, 1e11)
    assert t[0] == pytest.approx(8e-6 + 0.75 * 2.0 ** 20 / 1e11) and t[1] == 0.0


def test_divides_is_the_integer_remainder():
    rng = np.random.default_rng(5)
    for high in (9, 65, 5000, 2 ** 20):
        number, divisor = rng.integers(1, high, 20000), rng.integers(1, high, 20000)
        assert np.array_equal(divides(divisor, number), number % divisor == 0)
        assert np.array_equal(divides(divisor, 64), 64 % divisor == 0)
        assert np.array_equal(divides(8, number), number % 8 == 0)
        assert divides(divisor, divisor * rng.integers(1, 50, 20000)).all()
    assert divides(3, 9) is True and divides(4, 6) is False  # one layout: Python's remainder (its reasons)
    big = np.array([2 ** 40 + 1, 2 ** 40]), np.array([2 ** 20, 2 ** 20])  # products past 2^53: the remainder itself
    assert divides(big[1], big[0]).tolist() == [False, True]


def test_first_largest_is_the_first_index_of_the_largest_term():
    rng = np.random.default_rng(2)
    for count in (1, 2, 3, 7):
        terms = [np.where(rng.random(400) < 0.4, 1.0, rng.random(400)) for _ in range(count)]  # many ties at 1.0
        assert np.array_equal(first_largest(terms), np.vstack(terms).argmax(axis=0))
    terms = [np.array([1.0, np.nan]), np.array([2.0, 0.0]), np.array([2.0, 5.0])]
    assert first_largest(terms).tolist() == [1, 2]  # a NaN row: the last index (no term equals the NaN largest)


@pytest.mark.parametrize("modes", ["one", "every"])
def test_expert_hits_at_the_cap_once_per_row_are_each_counts_own(modes):
    # planner.engine.kernels.moe.expert_hits: stacked token counts whose every row is at the hit cap take the slowest
    # rank's hits at the cap computed once per row: bit for bit each count's own hit share (hit_share) and extreme
    # value (slowest_rank_hits), with a count below the cap beside them and without (moe_s_at's decode, chunk and
    # budget counts: qwen3-235b-a22b, 128 experts, top-8; the cap is 50 choices per expert, 800 tokens).
    from planner.engine.kernels import moe
    from planner.engine.rates import rates

    sc = Scenario(hardware=Catalogue().hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"),
                  workload=Workload(isl=4096, osl=1024), allow_span=True)
    plans = _plans(3000, True)
    quant = np.zeros(3000, np.int64) if modes == "one" else plans.quant
    g = moe.for_modes(rates(sc.hardware, sc.engine_profile).moe_curve, quant)
    lay = layout(shape_of(sc), plans)
    micro = lay.micro_tokens
    local, ep, two_log_ep = 128.0 / lay.ep, lay.ep, 2.0 * np.log(lay.ep)
    for counts in ([micro, micro + 4096.0, micro + 8192.0], [micro + 4096.0, micro + 8192.0]):
        choices = np.stack(counts) * 8.0
        got = moe.expert_hits(local, choices, 128.0, ep, g["hit_sharpness"], g["hit_at_cap"], two_log_ep)
        own = moe.slowest_rank_hits(local, moe.hit_share(choices / 128.0, g["hit_sharpness"], g["hit_at_cap"]), ep,
                                    np.minimum(choices, 1.0), two_log_ep)
        assert np.array_equal(got, own)
    # not vacuous: the decode count is below the cap on some rows, the chunk's never is
    assert (micro * 8.0 / 128.0 < moe.HIT_CAP).any() and ((micro + 4096.0) * 8.0 / 128.0 >= moe.HIT_CAP).all()
    # no rows (a block whose every row left the fixed point, or a space with no valid layout): stacked counts of
    # zero rows give zero rows, not a reduction over nothing (a property test's space with ep 2 on one GPU found it)
    none, g0 = np.empty((2, 0)), moe.for_modes(rates(sc.hardware, sc.engine_profile).moe_curve, quant[:0])
    assert moe.expert_hits(none, none, 128.0, none, g0["hit_sharpness"], g0["hit_at_cap"], none).shape == (2, 0)
