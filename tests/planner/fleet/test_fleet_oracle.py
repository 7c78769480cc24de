"""Oracle tests: the fleet MILP's optimum equals brute-force enumeration of the same problem.

Random small fleets (seeded, so failures reproduce): two hardware kinds, one or two models,
aggregated, prefill and decode columns, budgets, and fabric tight enough that the KV
hand-off sometimes binds. ``planner.verify.fleet_bruteforce`` lists every count vector, packs it
with first-fit decreasing and routes the KV by minimum cut; the MILP packs with threshold
inequalities and routes with flow variables. Their optima must agree for every objective.
"""

import numpy as np
import pytest

from planner.errors import InfeasibleError
from planner.milp.fleet import build
from planner.milp.fleet_problem import AGG, DECODE, PREFILL, ROLES, Columns, FleetProblem, KindData, ModelData
from planner.milp.fleet_solve import solve
from planner.serving.plan import Plan
from planner.verify.fleet_bruteforce import brute_force

# Both sides sum the same float coefficients; the MILP's tie-break floor gives up 1e-9 relative.
REL = 1e-7
CASES = 80


def _problem(rng: np.random.Generator, objective: str) -> FleetProblem:
    kinds = []
    for k in range(2):
        domain = int(rng.choice([4, 8]))
        kinds.append(KindData(label=f"k{k}", gpus=int(rng.integers(0, 17)), domain_gpus=domain,
                              power_w_per_gpu=float(rng.choice([700.0, 1000.0, 1200.0])),
                              price_per_gpu_hour=float(rng.uniform(1, 5)),
                              # per-GPU link rates small enough that KV (1e8 B/request) can fill them
                              fabric_bytes_per_s=np.array([1e12, rng.uniform(0.2e9, 3e9), rng.uniform(0.2e9, 3e9)])))
    num_models = int(rng.integers(1, 3))
    shared = objective == "max_tps" and rng.random() < 0.5
    cols = {key: [] for key in ("names", "model", "kind", "role", "kv_quant", "gpus", "rate", "load", "bound")}
    models = []
    for m in range(num_models):
        isl, osl = int(rng.choice([256, 1024])), int(rng.choice([128, 512]))
        # Only model 0's KV costs fabric: the oracle's minimum cut is exact for one commodity.
        kv = {1: float(rng.uniform(0.5e8, 2e8)) if m == 0 else 0.0}
        for k, kind in enumerate(kinds):
            for role in (AGG, PREFILL, DECODE):
                if rng.random() < 0.45:
                    continue
                g = int(rng.choice([s for s in (1, 2, 4, 8) if s <= kind.domain_gpus]))
                bound = min(kind.slots(g), 3)
                if bound < 1:
                    continue
                rate = float(rng.uniform(500, 5000)) * (isl / osl if role == PREFILL else 1.0)
                load = np.array([0.0, float(rng.choice([0.0, rng.uniform(0, 2e9)])), 0.0])
                cols["names"].append(f"{ROLES[role]}__m{m}__k{k}__g{g}")
                for key, value in (("model", m), ("kind", k), ("role", role), ("kv_quant", 1), ("gpus", g),
                                   ("rate", rate), ("load", load), ("bound", bound)):
                    cols[key].append(value)
        target = None
        if objective != "max_tps":
            target = float(rng.uniform(300, 6000))
        elif rng.random() < 0.3:
            target = float(rng.uniform(100, 1500))  # a floor
        models.append(ModelData(label=f"m{m}", isl=isl, osl=osl, target_tps=target,
                                weight=float(rng.uniform(0.5, 2.0)),
                                share=float(rng.uniform(0.2, 1)) if shared else None,
                                kv_bytes_per_request=kv))
    # Cut the enumeration to a few thousand vectors: at most 6 columns.
    keep = list(range(len(cols["names"])))[:6]
    columns = Columns(names=[cols["names"][i] for i in keep],
                      model=np.array([cols["model"][i] for i in keep], dtype=np.int64),
                      kind=np.array([cols["kind"][i] for i in keep], dtype=np.int64),
                      role=np.array([cols["role"][i] for i in keep], dtype=np.int64),
                      kv_quant=np.array([cols["kv_quant"][i] for i in keep], dtype=np.int64),
                      gpus=np.array([cols["gpus"][i] for i in keep], dtype=np.int64),
                      rate=np.array([cols["rate"][i] for i in keep], dtype=float),
                      fabric_load=np.array([cols["load"][i] for i in keep], dtype=float).reshape(-1, 3).T,
                      max_instances=np.array([cols["bound"][i] for i in keep], dtype=np.int64),
                      plans=[Plan() for _ in keep])
    max_kw = float(rng.uniform(3, 20)) * 1e3 if rng.random() < 0.3 else None
    max_cost = float(rng.uniform(5, 40)) if rng.random() < 0.3 else None
    return FleetProblem(kinds=tuple(kinds), models=tuple(models), columns=columns, objective=objective,
                        max_power_w=max_kw, max_cost_per_hour=max_cost)


def _milp(problem: FleetProblem):
    try:
        return solve(build(problem))
    except InfeasibleError:
        return None


@pytest.mark.parametrize("objective", ["min_gpus", "min_cost", "min_power", "max_tps"])
def test_milp_equals_brute_force(objective):
    rng = np.random.default_rng({"min_gpus": 11, "min_cost": 12, "min_power": 13, "max_tps": 14}[objective])
    agree = feasible = kv_used = 0
    for _ in range(CASES):
        problem = _problem(rng, objective)
        oracle = brute_force(problem)
        sol = _milp(problem)
        if oracle.value is None:
            assert sol is None or (objective == "max_tps" and sol.objective_value == pytest.approx(0.0, abs=1e-6)
                                   and not any(m.target_tps for m in problem.models))
            agree += 1
            continue
        assert sol is not None, f"the MILP found nothing; brute force found {oracle.value} with {oracle.counts}"
        assert sol.objective_value == pytest.approx(oracle.value, rel=REL, abs=1e-6), (oracle.counts, sol.counts)
        agree += 1
        feasible += 1
        kv_used += any(v > 0 for v in sol.flows.values())
    assert agree == CASES
    # Guards the generator: most cases must be feasible and some must move KV between pools,
    # or the comparison would be vacuous.
    assert feasible >= CASES // 3
    assert kv_used >= 3


def test_kv_fabric_binds_and_caps_disaggregated_output():
    # One kind, 8 GPUs in one domain, inter-server links of 1 GB/s per GPU: 8 GB/s in all.
    # A prefill instance (1 GPU) does 100,000 prompt tok/s = 100 requests/s at isl 1000; a decode
    # instance (1 GPU) does 10,000 output tok/s = 100 requests/s at osl 100. KV is 0.2 GB per
    # request, so the link carries at most 8 / 0.2 = 40 requests/s = 4,000 output tok/s,
    # whatever the pools could do: the fabric, not the pools, sets the optimum.
    kind = KindData(label="k", gpus=8, domain_gpus=8, power_w_per_gpu=1000.0, price_per_gpu_hour=1.0,
                    fabric_bytes_per_s=np.array([1e12, 1e9, 1e9]))
    model = ModelData(label="m", isl=1000, osl=100, kv_bytes_per_request={1: 0.2e9})
    columns = Columns(names=["prefill__m__k__g1", "decode__m__k__g1"], model=np.array([0, 0]),
                      kind=np.array([0, 0]), role=np.array([PREFILL, DECODE]), kv_quant=np.array([1, 1]),
                      gpus=np.array([1, 1]), rate=np.array([100_000.0, 10_000.0]), fabric_load=np.zeros((3, 2)),
                      max_instances=np.array([8, 8]), plans=[Plan(), Plan()])
    problem = FleetProblem(kinds=(kind,), models=(model,), columns=columns, objective="max_tps")
    sol = solve(build(problem))
    assert sol.objective_value == pytest.approx(4_000.0, rel=1e-9)
    assert brute_force(problem).value == pytest.approx(4_000.0, rel=1e-9)
    # The tie-break keeps 4,000 tok/s with the fewest GPUs: one prefill (100 req/s >= 40) and
    # one decode instance (100 req/s >= 40).
    assert sol.counts.tolist() == [1, 1]


def test_cross_kind_kv_goes_over_inter_rack_links():
    # Prefill only on kind a, decode only on kind b: every request crosses racks. Kind a's
    # outbound inter-rack links carry 4 GPUs x 0.5 GB/s = 2 GB/s; kind b's inbound 4 x 1 = 4 GB/s.
    # KV of 0.1 GB per request: at most min(2, 4) / 0.1 = 20 requests/s = 20 x 50 = 1,000 output tok/s.
    a = KindData(label="a", gpus=4, domain_gpus=4, power_w_per_gpu=1000.0, price_per_gpu_hour=None,
                 fabric_bytes_per_s=np.array([1e12, 1e12, 0.5e9]))
    b = KindData(label="b", gpus=4, domain_gpus=4, power_w_per_gpu=1000.0, price_per_gpu_hour=None,
                 fabric_bytes_per_s=np.array([1e12, 1e12, 1e9]))
    model = ModelData(label="m", isl=500, osl=50, kv_bytes_per_request={1: 0.1e9})
    columns = Columns(names=["prefill__m__a__g1", "decode__m__b__g1"], model=np.array([0, 0]), kind=np.array([0, 1]),
                      role=np.array([PREFILL, DECODE]), kv_quant=np.array([1, 1]), gpus=np.array([1, 1]),
                      rate=np.array([50_000.0, 5_000.0]), fabric_load=np.zeros((3, 2)), max_instances=np.array([4, 4]),
                      plans=[Plan(), Plan()])
    problem = FleetProblem(kinds=(a, b), models=(model,), columns=columns, objective="max_tps")
    sol = solve(build(problem))
    assert sol.objective_value == pytest.approx(1_000.0, rel=1e-9)
    assert brute_force(problem).value == pytest.approx(1_000.0, rel=1e-9)
    assert sol.flows[(0, 1, 0, 1)] == pytest.approx(20.0, rel=1e-8)  # the tie-break floor gives up 1e-9
