"""The reduced fleet MILP (rows that cannot bind left out, no ``served`` variables without shares) has
the optimum of the full one, and of brute-force enumeration.

Random fleets (seeded): two or three kinds with full and partial domains (so some packing rows bind
and some are implied), one or two models with aggregated, prefill and decode columns, fabric links
that sometimes could fill up and sometimes could not, budgets that sometimes bind and sometimes could
never be reached. ``planner.milp.fleet.build(reduce=False)`` keeps every row.
"""

import numpy as np
import pytest

from planner.errors import InfeasibleError
from planner.milp.fleet import build
from planner.milp.fleet_problem import AGG, DECODE, PREFILL, ROLES, Columns, FleetProblem, KindData, ModelData
from planner.milp.fleet_solve import solve
from planner.serving.plan import Plan
from planner.verify.fleet_bruteforce import brute_force

CASES = 30


def _rows(problem: FleetProblem, reduce: bool = True) -> set[str]:
    return {c.name for c in build(problem, reduce=reduce).problem.constraints()}


def _problem(rng: np.random.Generator, objective: str, small: bool) -> FleetProblem:
    kinds = []
    for k in range(int(rng.integers(2, 4))):
        domain = int(rng.choice([4, 8]))
        # per-GPU links: wide enough that nothing could fill them, or thin enough that KV can
        wide = rng.random() < 0.5
        link = [1e15 if wide else rng.uniform(0.2e9, 3e9) for _ in range(2)]
        kinds.append(KindData(label=f"k{k}", gpus=int(rng.integers(0, 13 if small else 25)), domain_gpus=domain,
                              power_w_per_gpu=float(rng.choice([700.0, 1000.0, 1200.0])),
                              price_per_gpu_hour=float(rng.uniform(1, 5)),
                              fabric_bytes_per_s=np.array([1e12, *link])))
    shared = objective == "max_tps" and rng.random() < 0.3
    cols: dict[str, list] = {key: [] for key in ("names", "model", "kind", "role", "gpus", "rate", "load", "bound")}
    models = []
    for m in range(int(rng.integers(1, 3))):
        isl, osl = int(rng.choice([256, 1024])), int(rng.choice([128, 512]))
        kv = {1: float(rng.uniform(0.5e8, 2e8)) if m == 0 else 0.0}  # the oracle's cut is exact for one commodity
        for k, kind in enumerate(kinds):
            for role in (AGG, PREFILL, DECODE):
                for g in (1, 2, 4, 8):
                    if g > kind.domain_gpus or rng.random() < (0.7 if small else 0.5) or kind.slots(g) < 1:
                        continue
                    cols["names"].append(f"{ROLES[role]}__m{m}__k{k}__g{g}")
                    cols["model"].append(m)
                    cols["kind"].append(k)
                    cols["role"].append(role)
                    cols["gpus"].append(g)
                    per_instance = float(rng.uniform(500, 5000)) * g ** 0.9
                    cols["rate"].append(per_instance * (isl / osl if role == PREFILL else 1))
                    cols["load"].append([0.0, float(rng.choice([0.0, rng.uniform(0, 2e9)])), 0.0])
                    cols["bound"].append(min(kind.slots(g), 3) if small else kind.slots(g))
        target = float(rng.uniform(300, 6000)) if objective != "max_tps" else (
            float(rng.uniform(100, 1500)) if rng.random() < 0.3 else None)
        models.append(ModelData(label=f"m{m}", isl=isl, osl=osl, target_tps=target, weight=float(rng.uniform(0.5, 2)),
                                share=float(rng.uniform(0.2, 1)) if shared else None, kv_bytes_per_request=kv))
    keep = np.array(range(len(cols["names"]))[:6] if small else range(len(cols["names"])), dtype=np.int64)

    def pick(key, dtype):
        return np.array([cols[key][i] for i in keep], dtype=dtype)

    columns = Columns(names=[cols["names"][i] for i in keep], model=pick("model", np.int64),
                      kind=pick("kind", np.int64),
                      role=pick("role", np.int64), kv_quant=np.ones(keep.size, np.int64), gpus=pick("gpus", np.int64),
                      rate=pick("rate", float), fabric_load=pick("load", float).reshape(-1, 3).T,
                      max_instances=pick("bound", np.int64), plans=[Plan() for _ in keep])
    # budgets: none, one the fleet could never reach, or one that may bind
    budget = rng.choice(["none", "loose", "tight"])
    max_kw = {"none": None, "loose": 1e9, "tight": float(rng.uniform(3, 30)) * 1e3}[budget]
    max_cost = {"none": None, "loose": 1e9, "tight": float(rng.uniform(5, 60))}[rng.choice(["none", "loose", "tight"])]
    return FleetProblem(kinds=tuple(kinds), models=tuple(models), columns=columns, objective=objective,
                        max_power_w=max_kw, max_cost_per_hour=max_cost)


def _optimum(problem: FleetProblem, reduce: bool):
    try:
        return solve(build(problem, reduce=reduce)).objective_value
    except InfeasibleError:
        return None


@pytest.mark.parametrize("objective", [pytest.param("min_gpus", marks=pytest.mark.slow), "min_cost",
                                       pytest.param("min_power", marks=pytest.mark.slow), "max_tps"])
def test_reduced_milp_has_the_full_milps_optimum(objective):
    rng = np.random.default_rng({"min_gpus": 21, "min_cost": 22, "min_power": 23, "max_tps": 24}[objective])
    fewer = feasible = 0
    for _ in range(CASES):
        problem = _problem(rng, objective, small=False)
        if len(problem.columns) == 0:
            continue
        full, reduced = _optimum(problem, reduce=False), _optimum(problem, reduce=True)
        assert (full is None) == (reduced is None)
        if full is not None:
            feasible += 1
            # both sum the same float coefficients; the tie-break floor gives up 1e-9 relative
            assert reduced == pytest.approx(full, rel=1e-7, abs=1e-6)
        fewer += len(_rows(problem)) < len(_rows(problem, reduce=False))
    # the comparison is not vacuous: most cases are feasible, and most drop rows
    assert feasible >= CASES // 3
    assert fewer >= CASES // 2


@pytest.mark.parametrize("objective", ["min_cost", "max_tps"])
def test_reduced_milp_equals_brute_force(objective):
    rng = np.random.default_rng({"min_cost": 31, "max_tps": 32}[objective])
    agree = 0
    for _ in range(CASES):
        problem = _problem(rng, objective, small=True)
        if len(problem.columns) == 0:
            continue
        oracle = brute_force(problem).value
        reduced = _optimum(problem, reduce=True)
        if oracle is None:
            assert reduced is None or (objective == "max_tps" and reduced == pytest.approx(0.0, abs=1e-6))
        else:
            assert reduced == pytest.approx(oracle, rel=1e-7, abs=1e-6)
            agree += 1
    assert agree >= CASES // 3


def test_rows_that_cannot_bind_are_left_out():
    # Two full 8-GPU domains: every size's packing bound is 16 GPUs, so only the 1-GPU row is kept
    # (2 x 8 = 16, 4 x 4 = 16, 8 x 2 = 16). 16 GPUs x 1,000 W = 16 kW can never exceed a 20 kW budget,
    # and 16 GPUs x 1 GB/s of load can never fill 16 x 10 GB/s of links: those rows go as well.
    kind = KindData(label="k", gpus=16, domain_gpus=8, power_w_per_gpu=1000.0, price_per_gpu_hour=1.0,
                    fabric_bytes_per_s=np.array([1e12, 10e9, 10e9]))
    gpus = np.array([1, 2, 4, 8])
    columns = Columns(names=[f"agg__m__k__g{g}" for g in gpus], model=np.zeros(4, np.int64), kind=np.zeros(4, np.int64),
                      role=np.zeros(4, np.int64), kv_quant=np.zeros(4, np.int64), gpus=gpus,
                      rate=1000.0 * gpus, fabric_load=np.array([np.zeros(4), 1e9 * gpus, np.zeros(4)]),
                      max_instances=16 // gpus, plans=[Plan() for _ in gpus])
    problem = FleetProblem(kinds=(kind,), models=(ModelData(label="m", target_tps=5000.0),), columns=columns,
                           objective="min_cost", max_power_w=20e3)
    assert _rows(problem, reduce=False) == {
        "packing__k__g1", "packing__k__g2", "packing__k__g4", "packing__k__g8", "target__m",
        "fabric_inter_server__k", "power_budget"}
    assert _rows(problem) == {"packing__k__g1", "target__m"}
    # 12 GPUs (one 8-GPU domain and a partial one of 4): sizes 1, 2, 4 bound 12 GPUs, size 8 only
    # 8 x slots(8) = 8 x 1 = 8 < 12, so its row stays; 12 GPUs x 1 kW = 12 kW can exceed 11 kW, and
    # 12 GPUs x 1 GB/s can fill 12 x 0.5 GB/s of links: those rows stay too.
    tight = FleetProblem(kinds=(KindData(label="k", gpus=12, domain_gpus=8, power_w_per_gpu=1000.0,
                                         price_per_gpu_hour=1.0, fabric_bytes_per_s=np.array([1e12, 0.5e9, 0.5e9])),),
                         models=problem.models, columns=columns, objective="min_cost", max_power_w=11e3)
    assert _rows(tight) == {"packing__k__g1", "packing__k__g8", "target__m", "fabric_inter_server__k",
                            "power_budget"}


def test_tiebreak_is_bounded_by_nodes_not_by_the_clock(monkeypatch):
    # The tie-break's budget is a node count (TIEBREAK_MAX_NODES, 2,000), so which tied plan is printed
    # cannot depend on machine load; the wall-clock limit (30 s) is only a safety net. The second call
    # of ``run`` is the tie-break: it must carry the node limit, and the first solve must not.
    from planner.milp import fleet_solve

    calls = []
    real = fleet_solve.run

    def recording(problem, solver, limit, wording, options):
        calls.append((limit, dict(options)))
        return real(problem, solver, limit, wording, options)

    monkeypatch.setattr(fleet_solve, "run", recording)
    rng = np.random.default_rng(24)
    problem = next(p for p in (_problem(rng, "max_tps", small=False) for _ in range(CASES)) if len(p.columns))
    first = solve(build(problem))
    assert [c[1].get("mip_max_nodes") for c in calls] == [None, 2000]
    assert calls[1][0] == 30.0
    # the same problem solved again returns the same plan, instance for instance
    calls.clear()
    again = solve(build(problem))
    assert np.array_equal(first.counts, again.counts) and first.tiebreak_proven == again.tiebreak_proven
