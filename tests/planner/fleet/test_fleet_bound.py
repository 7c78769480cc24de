"""Aggregated fleet rows scored only where they can matter (``planner.fleet.bound``).

The bound (an aggregated row's output tokens/s is at most its decode-only tokens/s) is checked on
every row of real tables; the rows the bound leaves unscored are shown never to hold a size's
fastest row, and the fleet's columns, plans and messages to be those of full scoring.
"""

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine, engine_names
from planner.errors import InfeasibleError
from planner.fleet import bound
from planner.fleet.dominance import distinct
from planner.fleet.optimise import plan_fleet
from planner.fleet.question import Fleet, FleetKind, FleetModel
from planner.fleet.spec import Overrides, load
from planner.fleet.table import build, scenario, score
from planner.milp.fleet_problem import AGG, is_power_of_two
from planner.search.prune import best_per_group
from planner.serving.candidates import Limits, enumerate_plans
from planner.serving.disagg import decode_scores
from planner.serving.evaluate import row_blocks
from planner.serving.space import SearchSpace, default_space, validate
from planner.serving.workload import Workload

CAT = Catalogue()
SMALL = SearchSpace(tp=(1, 2, 4, 8), pp=(1, 2), dp=(1, 2), ep=(1, 2, 4), batch=(1, 8, 32, 64, 128, 256, 512, 1024),
                    quant=("fp8", "fp4"), kv_quant=("fp8", "bf16"), kv_offload_fraction=(0.0, 0.5))


def _fleet(name, system, isl, osl, limits, space=SMALL, serving="any"):
    k = FleetKind("k", CAT.hardware(system), 8, 700.0, 3.0)
    m = FleetModel(label="m", spec=model(name), workload=Workload(isl=isl, osl=osl), target_tps=10_000.0,
                   share=None, weight=1.0, limits=limits, serving=serving)
    return Fleet(kinds=(k,), models=(m,), objective="min_cost", max_power_w=None, max_cost_per_hour=None,
                 profile=engine("default"), space=space)


CASES = [  # dense and MoE, short and long prompts, with and without latency limits
    ("llama-3.1-8b", "hgx-h200", 1024, 256, Limits(max_tpot_s=0.02)),
    ("qwen3-30b-a3b", "mi355x-8", 4096, 1024, Limits(max_tpot_s=0.05, max_ttft_s=2.0)),
    ("gpt-oss-120b", "hgx-b200", 2048, 2048, Limits()),
]


@pytest.mark.parametrize("name,system,isl,osl,limits", CASES)
def test_aggregated_rate_never_exceeds_the_decode_only_rate(name, system, isl, osl, limits):
    fleet = _fleet(name, system, isl, osl, limits)
    sc = scenario(fleet, fleet.models[0], fleet.kinds[0])
    plans = enumerate_plans(sc, validate(SMALL))
    decode = decode_scores(sc, plans)
    agg = bound.full(sc, plans, limits, len(plans))
    fits = agg.fits
    # The memory model is the same for both (the shape's prefill fields enter no memory term).
    assert np.array_equal(fits, decode.feasible)
    assert fits.sum() > 100  # a real table, not a corner
    # Every row that fits: aggregated tokens/s <= decode-only batch / step (prompt work only slows a step).
    assert np.all(agg.rate[fits] <= decode.instance_tps[fits] * (1 + bound.BOUND_RELATIVE_TOLERANCE))


@pytest.mark.parametrize("profile", engine_names())
@pytest.mark.parametrize("preset", [None, "seed"])
def test_the_bound_holds_for_every_engine_and_preset(profile, preset):
    # Dense, MoE and MLA models; prompt-heavy, output-heavy and very long prompts; every row.
    worst, slowest = 0.0, np.inf
    for name, system, isl, osl in (("llama-3.1-70b", "mi355x-8", 8192, 256), ("qwen3-30b-a3b", "hgx-h200", 128, 2048),
                                   ("deepseek-v3", "gb200-nvl72", 32768, 64)):
        hw = CAT.hardware(system, preset=preset)
        fleet = replace(_fleet(name, system, isl, osl, Limits()), profile=engine(profile),
                        kinds=(FleetKind("k", hw, 8, 700.0, 3.0),))
        sc = scenario(fleet, fleet.models[0], fleet.kinds[0])
        plans = enumerate_plans(sc, validate(SMALL))
        decode = decode_scores(sc, plans)
        agg = bound.full(sc, plans, Limits(), len(plans))
        worst = max(worst, float(np.max(agg.rate[agg.fits] / decode.instance_tps[agg.fits], initial=0.0)))
        # TPOT: the aggregated step carries the decode-only step's work and prompt work on top, never faster
        # (sglang's equals it on some rows: a step whose prompt work hides under its decode terms).
        slowest = min(slowest, float(np.min(agg.tpot_s[agg.fits] / decode.step_time_s[agg.fits], initial=np.inf)))
    assert 0.5 < worst <= 1.0  # some row comes close to its bound (a real test), none beyond it
    assert 1.0 <= slowest < 1.01  # some row's TPOT is within 1 % of its decode-only step, none below it


@pytest.mark.parametrize("name,system,isl,osl,limits", CASES)
def test_bounded_rows_hold_every_sizes_fastest_row_bit_for_bit(name, system, isl, osl, limits):
    fleet = _fleet(name, system, isl, osl, limits)
    sc = scenario(fleet, fleet.models[0], fleet.kinds[0])
    plans = enumerate_plans(sc, validate(SMALL))
    some = bound.bounded(sc, plans, decode_scores(sc, plans), limits, len(plans))
    every = bound.full(sc, plans, limits, len(plans))
    assert some.index.size < every.index.size / 2  # most rows are never scored (254 of 704 for Llama-8B)

    def fastest(b):
        gpus = plans.tp[b.index] * plans.pp[b.index] * plans.dp[b.index]
        ok = np.flatnonzero(b.ok & is_power_of_two(gpus))
        keep = ok[best_per_group(gpus[ok, None], b.rate[ok])]
        return b.index[keep].tolist(), b.rate[keep].tolist(), b.load[:, keep].tolist()

    # Same rows (ties included: the first in row order), same numbers, to the bit.
    assert fastest(some) == fastest(every)
    # And a scored row's figures are those of the full table.
    pos = np.searchsorted(every.index, some.index)
    assert np.array_equal(every.rate[pos], some.rate) and np.array_equal(every.ttft_s[pos], some.ttft_s)


def test_falling_is_the_prefix_of_a_stable_sort_by_falling_bound():
    # Rows go in falling bound, ties in row order: [5, 7, 7, 3, 7, 9, 1] -> 9 (row 5), 7 (rows 1, 2, 4),
    # 5 (row 0), 3 (row 3), 1 (row 6). A prefix ending inside the tie of 7s takes the first rows of it.
    b = np.array([5.0, 7.0, 7.0, 3.0, 7.0, 9.0, 1.0])
    assert bound._falling(b, 1).tolist() == [5]
    assert bound._falling(b, 3).tolist() == [5, 1, 2]
    assert bound._falling(b, 4).tolist() == [5, 1, 2, 4]
    assert bound._falling(b, 7).tolist() == [5, 1, 2, 4, 0, 3, 6]
    assert bound._falling(b, 9).tolist() == [5, 1, 2, 4, 0, 3, 6]  # more than there are: every row
    # Many ties (rates rounded to 3 values) and every prefix length: the stable sort's prefix each time.
    rng = np.random.default_rng(3)
    tied = rng.choice([1e3, 2e3, 3e3], size=200)
    for count in range(1, 201):
        assert np.array_equal(bound._falling(tied, count), np.argsort(-tied, kind="stable")[:count])
    # A NaN rate sorts last, as in the stable sort (that path sorts every row).
    assert bound._falling(np.array([1.0, np.nan, 2.0]), 2).tolist() == [2, 0]


def test_a_failed_bound_falls_back_to_every_row():
    name, system, isl, osl, limits = CASES[0]
    fleet = _fleet(name, system, isl, osl, limits)
    sc = scenario(fleet, fleet.models[0], fleet.kinds[0])
    plans = enumerate_plans(sc, validate(SMALL))
    decode = decode_scores(sc, plans)
    # A decode rate one tenth of the truth is no bound: the first scored rows break it.
    wrong = replace(decode, instance_tps=decode.instance_tps / 10)
    out = bound.bounded(sc, plans, wrong, limits, len(plans))
    assert out.index.tolist() == list(range(len(plans)))
    # So is a decode-only step time twice the truth: scored rows then beat their TPOT floor.
    wrong = replace(decode, step_time_s=decode.step_time_s * 2)
    assert bound.bounded(sc, plans, wrong, Limits(), len(plans)).index.tolist() == list(range(len(plans)))


def test_rows_whose_decode_only_step_breaks_the_tpot_limit_are_not_scored():
    name, system, isl, osl, limits = CASES[0]  # Llama-3.1-8B on H200, TPOT <= 20 ms
    fleet = _fleet(name, system, isl, osl, limits)
    sc = scenario(fleet, fleet.models[0], fleet.kinds[0])
    plans = enumerate_plans(sc, validate(SMALL))
    decode = decode_scores(sc, plans)
    some = bound.bounded(sc, plans, decode, limits, len(plans))
    slow = decode.feasible & (decode.step_time_s > limits.max_tpot_s)
    assert slow.sum() > 50  # a real cut: rows that fit but whose decode-only step is over 20 ms
    assert not np.any(slow[some.index])  # none of them scored
    without = bound.bounded(sc, plans, decode, Limits(), len(plans))  # no TPOT limit: some are
    assert np.any(slow[without.index])


@pytest.mark.slow  # scores the example fleet's 321,000 aggregated rows in full (~2.5 s)
def test_example_fleet_columns_equal_full_scoring(monkeypatch):
    fleet = load("examples/fleet.toml", CAT, Overrides())
    fast = build(fleet).problem.columns
    scored = score(fleet)
    agg = [r for mi, ki, role, r in scored.raw if role == AGG]
    # 9 aggregated tables: 15,600 rows scored of 321,000 that fit (bench/fleet.py prints the time).
    assert sum(r.num_scored for r in agg) < 20_000
    monkeypatch.setattr(bound, "bounded", lambda sc, plans, decode, limits, enumerated:
                        bound.full(sc, plans, limits, enumerated))
    slow = build(fleet).problem.columns
    assert fast.names == slow.names
    assert np.array_equal(fast.rate, slow.rate) and np.array_equal(fast.fabric_load, slow.fabric_load)
    assert np.array_equal(fast.max_instances, slow.max_instances)


def test_a_kind_whose_fabric_can_bind_scores_its_aggregated_rows_in_full():
    fleet = _fleet("llama-3.1-8b", "hgx-h200", 1024, 256, Limits(max_tpot_s=0.02))
    hw = fleet.kinds[0].hardware
    thin = {t: replace(hw.fabrics[t], bytes_per_s=1e3) for t in ("inter_server", "inter_rack")}
    kind = replace(fleet.kinds[0], hardware=replace(hw, fabrics={**hw.fabrics, **thin}))
    thin_fleet = replace(fleet, kinds=(kind,))
    agg = next(r for mi, ki, role, r in score(thin_fleet).raw if role == AGG)
    sc = scenario(thin_fleet, thin_fleet.models[0], kind)
    plans = enumerate_plans(sc, validate(SMALL))
    every = bound.full(sc, plans, Limits(max_tpot_s=0.02), 0)
    assert agg.num_scored == len(plans)  # no row left out: the Pareto front may need any of them
    assert agg.num_feasible == int(np.sum(every.ok & is_power_of_two(plans.tp * plans.pp * plans.dp)))


def test_no_candidate_message_counts_every_row():
    # TPOT <= 1 ms is out of reach: the message names the fastest TPOT of all rows, aggregated
    # tables scored in full for it (the bounded tables would report a slower one).
    fleet = _fleet("llama-3.1-8b", "hgx-h200", 1024, 256, Limits(max_tpot_s=0.001), serving="agg")
    exhaustive = score(fleet, exhaustive=True).counts
    fastest = min(r["best_tpot_s"] for r in exhaustive if r["best_tpot_s"] is not None)
    assert score(fleet).counts[0]["best_tpot_s"] is None  # not known from the bounded table
    with pytest.raises(Exception, match=rf"the fastest TPOT that fits in memory is {fastest * 1e3:,.2f} ms"):
        plan_fleet(fleet)


def test_default_space_tables_bound_holds_on_the_example_fleet_rows():
    # The example fleet's smallest aggregated table (Llama-3.1-70B on 8 H200 servers), every row.
    fleet = load("examples/fleet.toml", CAT, Overrides())
    m, k = fleet.models[1], fleet.kinds[2]
    sc = scenario(fleet, m, k)
    plans = enumerate_plans(sc, validate(default_space(sc)))
    decode = decode_scores(sc, plans)
    agg = bound.full(sc, plans, m.limits, len(plans))
    assert len(plans) == 5232
    assert np.all(agg.rate[agg.fits] <= decode.instance_tps[agg.fits] * (1 + bound.BOUND_RELATIVE_TOLERANCE))


@pytest.mark.parametrize("seed", range(6))
def test_random_fleets_plan_the_same_with_and_without_the_bound(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    names = ("llama-3.1-8b", "qwen3-30b-a3b", "llama-3.1-70b")
    systems = ("hgx-h200", "mi355x-8", "hgx-b200")
    kinds = tuple(FleetKind(f"k{i}", CAT.hardware(s), int(rng.choice([8, 16])), 700.0, float(rng.uniform(2, 6)))
                  for i, s in enumerate(rng.choice(systems, size=2, replace=False)))
    workloads = [Workload(isl=int(rng.choice([256, 2048, 8192])), osl=int(rng.choice([128, 1024]))) for _ in range(2)]
    models = tuple(FleetModel(label=f"m{i}", spec=model(str(n)), workload=workloads[i],
                              target_tps=float(rng.uniform(2_000, 20_000)), share=None, weight=1.0,
                              limits=Limits(max_tpot_s=float(rng.choice([0.02, 0.05, 0.2])),
                                            max_ttft_s=float(rng.choice([1.0, 5.0]))),
                              serving=str(rng.choice(["agg", "any"])))
                   for i, n in enumerate(rng.choice(names, size=2, replace=False)))
    fleet = Fleet(kinds=kinds, models=models, objective=str(rng.choice(["min_cost", "min_gpus", "max_tps"])),
                  max_power_w=None, max_cost_per_hour=None, profile=engine("default"), space=SMALL)

    def outcome():  # columns, rates, optimum and counts; or the one-line error of an infeasible fleet
        try:
            r = plan_fleet(fleet)
        except InfeasibleError as exc:
            return str(exc)
        c = r.problem.columns
        return c.names, c.rate.tolist(), r.solution.objective_value, r.solution.counts.tolist()

    fast = outcome()
    monkeypatch.setattr(bound, "bounded", lambda sc, plans, decode, limits, enumerated:
                        bound.full(sc, plans, limits, enumerated))
    assert fast == outcome()


def test_decode_rates_are_the_decode_scores_bit_for_bit_across_row_blocks():
    # Qwen3-235B-A22B on a GB200 NVL72 rack, the example fleet's largest table: 109,008 rows, four of the
    # evaluator's 32,768-row blocks (the last one partial), each scored and dropped on its own.
    fleet = load("examples/fleet.toml", CAT, Overrides())
    m, k = fleet.models[0], fleet.kinds[0]
    sc = scenario(fleet, m, k)
    plans = enumerate_plans(sc, validate(default_space(sc)))
    assert len(plans) == 109_008 and len(row_blocks(len(plans))) == 4  # ceil(109,008 / 32,768)
    slim, full = bound.decode_rates(sc, plans), decode_scores(sc, plans)
    assert np.array_equal(slim.feasible, full.feasible)
    for name in ("step_time_s", "instance_tps", "fabric_bytes_per_s"):
        assert np.array_equal(getattr(slim, name), getattr(full, name), equal_nan=True), name
    assert slim.fabric_bytes_per_s.shape == (3, 109_008)


def test_distinct_is_np_unique_without_importing_numpy_ma():
    values = np.array([8, 1, 4, 1, 8, 2, 16, 4])
    assert distinct(values).tolist() == [1, 2, 4, 8, 16]  # sorted, each once, as np.unique gives
    assert distinct(np.zeros(0, np.int64)).size == 0
    code = ("import sys, numpy as np; from planner.fleet.dominance import distinct; "
            "distinct(np.array([3, 1, 3])); print('numpy.ma' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # np.unique(np.array([3, 1, 3])) would print True
